/**
 * Runs `fn` at most once per `ms`: the first call at once, later ones folded into one trailing run.
 * `cancel` drops a pending trailing run.
 */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer: number | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const throttled = () => {
    if (timer !== null) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = window.setTimeout(run, wait);
  };
  throttled.cancel = () => {
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
  };
  return throttled;
}
