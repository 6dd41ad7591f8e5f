/** Prints the demo's story with chain-time offsets ("[+04:00]") so time travel reads naturally. */
export class Timeline {
  constructor(private readonly start: bigint) {}

  /** One event at chain time `now`, told by `who`. */
  at(now: bigint, who: string, text: string): void {
    const offset = Number(now - this.start);
    const mm = String(Math.floor(offset / 60)).padStart(2, "0");
    const ss = String(offset % 60).padStart(2, "0");
    process.stdout.write(`[+${mm}:${ss}] ${who.padEnd(11)} ${text}\n`);
  }

  section(title: string): void {
    process.stdout.write(`\n== ${title}\n`);
  }
}
