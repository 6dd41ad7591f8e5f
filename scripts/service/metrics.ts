import { Counter, Gauge, Registry } from "prom-client";

/**
 * The base of a service's Prometheus metrics: a registry of its own (tests run several services in one process) and
 * one-line declarations of counters and gauges on it, so a daemon's metrics file lists only names and meanings.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  protected counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  protected gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
