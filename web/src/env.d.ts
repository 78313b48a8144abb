// Vite's `?worker&inline` import: a constructor for the worker, bundled into the importing script.
declare module '*?worker&inline' {
  const WorkerConstructor: new () => Worker;
  export default WorkerConstructor;
}
