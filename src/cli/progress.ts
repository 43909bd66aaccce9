import cliProgress from 'cli-progress';

/**
 * A progress line on stderr while the CLI waits for a run: only when stderr is a terminal and not in `--json`
 * mode, so pipes, scripts and CI logs get the result alone. Neither reconciliation nor import reports a total
 * while it runs, so the bar turns (a spinner) and shows the run's phase and what it has counted so far.
 */
export interface Progress {
  update(phase: string, detail?: string): void;
  stop(): void;
}

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function startProgress(title: string, options: { enabled: boolean }): Progress {
  if (!options.enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `{spinner} ${title}  {phase}  {detail}  {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let frame = 0;
  const state = { spinner: frames[0], phase: 'starting', detail: '' };
  bar.start(1, 0, state);
  // The spinner turns between polls, so the line shows the CLI is alive while the API has nothing new.
  const timer = setInterval(() => {
    frame = (frame + 1) % frames.length;
    bar.update({ ...state, spinner: frames[frame] });
  }, 100);
  timer.unref();
  return {
    update(phase, detail = '') {
      state.phase = phase;
      state.detail = detail;
      bar.update(state);
    },
    stop() {
      clearInterval(timer);
      bar.stop();
    },
  };
}

/** The statuses an operation ends in: waiting for one stops there. */
export const closedStatuses = new Set(['completed', 'failed', 'canceled', 'terminated', 'timed-out']);

/** The pause between two polls. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
