// Paging for every list with a cursor (streams, events, checkpoints, windows, CI/CD records…): the API gives only a
// "next" cursor, so the pager keeps the cursors of the pages behind it to go back. One load at a time per list; a
// newer reset wins over an older load still in flight (its rows are dropped).

export interface PageResult<C> {
  /** The cursor of the page after this one, or null on the last page. */
  next: C | null;
}

export class Pager<C> {
  private behind: C[] = [];
  private current: C;
  private next: C | null = null;
  private generation = 0;
  private readonly prevBtn: HTMLButtonElement;
  private readonly nextBtn: HTMLButtonElement;
  private readonly label: HTMLSpanElement;

  /**
   * @param what the list's name for the buttons' accessible names ("Next page of streams")
   * @param render loads and shows the page at `cursor`, returning the next page's cursor
   */
  constructor(
    container: HTMLElement,
    what: string,
    private readonly first: C,
    private readonly render: (cursor: C) => Promise<PageResult<C>>,
  ) {
    this.current = first;
    const id = container.id.replace(/-pager$/, '');
    this.prevBtn = document.createElement('button');
    this.prevBtn.type = 'button';
    this.prevBtn.id = `${id}-prev`;
    this.prevBtn.textContent = 'Previous page';
    this.prevBtn.setAttribute('aria-label', `Previous page of ${what}`);
    this.nextBtn = document.createElement('button');
    this.nextBtn.type = 'button';
    this.nextBtn.id = `${id}-next`;
    this.nextBtn.textContent = 'Next page';
    this.nextBtn.setAttribute('aria-label', `Next page of ${what}`);
    this.label = document.createElement('span');
    this.label.id = `${id}-page`;
    this.label.className = 'hint';
    this.label.setAttribute('aria-live', 'polite');
    this.prevBtn.addEventListener('click', () => void this.back());
    this.nextBtn.addEventListener('click', () => void this.forward());
    container.replaceChildren(this.prevBtn, this.nextBtn, this.label);
    this.update();
  }

  /** Page 1 again (a new stream, a new filter, a new page size). */
  async reset(first: C = this.first): Promise<void> {
    this.behind = [];
    await this.show(first);
  }

  /** The page shown, loaded again. */
  async reload(): Promise<void> {
    await this.show(this.current);
  }

  private async forward(): Promise<void> {
    if (this.next === null) return;
    this.behind.push(this.current);
    if (!(await this.show(this.next))) {
      this.behind.pop();
      this.update();
    }
  }

  private async back(): Promise<void> {
    const prev = this.behind.pop();
    if (prev === undefined) return;
    if (!(await this.show(prev))) {
      this.behind.push(prev);
      this.update();
    }
  }

  /** Loads `cursor`; true when this load is still the newest when it ends. */
  private async show(cursor: C): Promise<boolean> {
    const gen = ++this.generation;
    this.prevBtn.disabled = true;
    this.nextBtn.disabled = true;
    try {
      const r = await this.render(cursor);
      if (gen !== this.generation) return false;
      this.current = cursor;
      this.next = r.next;
      return true;
    } catch {
      // The renderer showed the error; stay on the page we were on.
      return false;
    } finally {
      if (gen === this.generation) this.update();
    }
  }

  private update(): void {
    this.prevBtn.disabled = this.behind.length === 0;
    this.nextBtn.disabled = this.next === null;
    this.label.textContent = `Page ${this.behind.length + 1}${this.next === null ? ' (last)' : ''}`;
  }
}
