// The pipeline and build views (#16): /v1/pipelines, /v1/executions and /build.
import { startBuilds } from './builds.js';
import { startPipelines } from './pipelines.js';

export function startExtraViews(onView: (name: string, f: () => void) => void, openStream: (id: string) => void): void {
  startPipelines(onView, openStream);
  startBuilds();
}
