import pino, { type DestinationStream, type Logger } from "pino";

/**
 * One structured (JSON lines) logger per service, named after it. The level comes from LOG_LEVEL (default info);
 * a service run inside another program (the demo) passes level "silent".
 */
export function createLogger(name: string, options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  return options.destination ? pino({ name, level }, options.destination) : pino({ name, level });
}
