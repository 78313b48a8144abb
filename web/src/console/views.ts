// The pipeline and build views (#16), when this ledger serves them.
export function startExtraViews(_onView: (name: string, f: () => void) => void): void {}
