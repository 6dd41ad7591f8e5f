import { DripFeedError } from "./errors";
import { agreementIdToBytes32, parseBytes32, requireAddress } from "./ids";
import { parseJsonObject } from "./jsonText";

/**
 * Golem market properties for DripFeed-backed agreements. A requestor adds them to its Demand to announce that the
 * agreement is paid through DripFeed (where, which pool, which token, and optionally the relay that takes
 * acceptances); a provider reads them back from the agreement before it approves. New, non-standard properties carry
 * Golem's `!exp` segment (experimental), under `golem.com.payment` where payment properties live.
 */
export const DRIPFEED_PROPERTY_PREFIX = "golem.com.payment.!exp.dripfeed.v1";
export const DRIPFEED_PROPERTIES = {
  contract: `${DRIPFEED_PROPERTY_PREFIX}.contract`,
  chainId: `${DRIPFEED_PROPERTY_PREFIX}.chain-id`,
  poolId: `${DRIPFEED_PROPERTY_PREFIX}.pool-id`,
  token: `${DRIPFEED_PROPERTY_PREFIX}.token`,
  relayUrl: `${DRIPFEED_PROPERTY_PREFIX}.relay-url`,
} as const;

/** Golem's negotiated payment properties DripFeed's terms must equal (`?` marks a negotiable property). */
export const GOLEM_PROPERTIES = {
  debitNoteInterval: "golem.com.scheme.payu.debit-note.interval-sec?",
  paymentTimeout: "golem.com.scheme.payu.payment-timeout-sec?",
  acceptTimeout: "golem.com.payment.debit-notes.accept-timeout?",
  chosenPlatform: "golem.com.payment.chosen-platform",
  pricingModel: "golem.com.pricing.model",
  linearCoeffs: "golem.com.pricing.model.linear.coeffs",
  usageVector: "golem.com.usage.vector",
  cpuThreads: "golem.inf.cpu.threads",
} as const;

/** What the DripFeed properties say. */
export interface DripFeedMarketInfo {
  contract: string;
  chainId: bigint;
  poolId: string;
  token: string;
  relayUrl?: string;
}

/** Market properties as Golem keeps them: a flat object keyed by dotted names. */
export type MarketProperties = Record<string, unknown>;

/** The Demand properties announcing a DripFeed-backed agreement (merge them into the Demand's properties). */
export function dripFeedDemandProperties(info: DripFeedMarketInfo): Record<string, string | number> {
  const chainId = Number(info.chainId);
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new DripFeedError("INVALID_ARGUMENT", `chain id ${info.chainId} is not a positive integer`, "chainId");
  }
  const properties: Record<string, string | number> = {
    [DRIPFEED_PROPERTIES.contract]: requireAddress(info.contract, "contract"),
    [DRIPFEED_PROPERTIES.chainId]: chainId,
    [DRIPFEED_PROPERTIES.poolId]: parseBytes32(info.poolId, "poolId"),
    [DRIPFEED_PROPERTIES.token]: requireAddress(info.token, "token"),
  };
  if (info.relayUrl !== undefined) properties[DRIPFEED_PROPERTIES.relayUrl] = requireHttpUrl(info.relayUrl);
  return properties;
}

/**
 * Reads the DripFeed properties back (from a Demand's or an agreement's properties). Undefined when none is there;
 * INVALID_FIELD naming the property when some are there but missing or malformed.
 */
export function parseDripFeedProperties(properties: MarketProperties): DripFeedMarketInfo | undefined {
  const flat = flattenProperties(properties);
  const present = Object.values(DRIPFEED_PROPERTIES).filter((key) => flat[key] !== undefined);
  if (present.length === 0) return undefined;
  const get = (key: string): unknown => {
    const value = flat[key];
    if (value === undefined) throw new DripFeedError("INVALID_FIELD", `property ${key} is missing`, key);
    return value;
  };
  const chainIdValue = get(DRIPFEED_PROPERTIES.chainId);
  const chainId =
    typeof chainIdValue === "number" && Number.isSafeInteger(chainIdValue) && chainIdValue > 0
      ? BigInt(chainIdValue)
      : typeof chainIdValue === "string" && /^[1-9]\d*$/.test(chainIdValue)
        ? BigInt(chainIdValue)
        : undefined;
  if (chainId === undefined) {
    throw new DripFeedError(
      "INVALID_FIELD",
      `property ${DRIPFEED_PROPERTIES.chainId} must be a positive integer`,
      DRIPFEED_PROPERTIES.chainId,
    );
  }
  const relay = flat[DRIPFEED_PROPERTIES.relayUrl];
  return {
    contract: requireAddress(get(DRIPFEED_PROPERTIES.contract), DRIPFEED_PROPERTIES.contract),
    chainId,
    poolId: parseBytes32(get(DRIPFEED_PROPERTIES.poolId), DRIPFEED_PROPERTIES.poolId),
    token: requireAddress(get(DRIPFEED_PROPERTIES.token), DRIPFEED_PROPERTIES.token),
    relayUrl: relay === undefined ? undefined : requireHttpUrl(relay, DRIPFEED_PROPERTIES.relayUrl),
  };
}

/**
 * Properties as a flat object. Golem's API returns them flat ("golem.com.payment.chosen-platform": ...); some tools
 * nest them ({golem: {com: ...}}). Nested objects are joined with dots; arrays and values are kept as they are.
 */
export function flattenProperties(properties: MarketProperties, prefix = ""): MarketProperties {
  const out: MarketProperties = {};
  for (const [key, value] of Object.entries(properties)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      Object.assign(out, flattenProperties(value as MarketProperties, name));
    } else {
      out[name] = value;
    }
  }
  return out;
}

function requireHttpUrl(value: unknown, field = "relayUrl"): string {
  if (typeof value === "string") {
    try {
      const url = new URL(value);
      if (url.protocol === "http:" || url.protocol === "https:") return value;
    } catch {
      // fall through
    }
  }
  throw new DripFeedError("INVALID_FIELD", `${field} must be an http(s) URL`, field);
}

/** The parts of a Golem market agreement (`GET /market-api/v1/agreements/{id}`) DripFeed's checks use. */
export interface GolemAgreement {
  agreementId: string;
  /** The agreement id as DripFeed's bytes32. */
  agreementKey: string;
  state?: string;
  demand: MarketProperties;
  offer: MarketProperties;
  providerId?: string;
  requestorId?: string;
}

/** Parses a market-API agreement JSON (text or parsed), refusing what is not one with the field named. */
export function parseGolemAgreement(input: unknown): GolemAgreement {
  const obj = parseJsonObject(input, "the Golem agreement");
  const side = (name: "demand" | "offer"): Record<string, unknown> => {
    const part = obj[name];
    if (typeof part !== "object" || part === null || Array.isArray(part)) {
      throw new DripFeedError("INVALID_FIELD", `the Golem agreement has no ${name} object`, name);
    }
    const properties = (part as Record<string, unknown>).properties;
    if (typeof properties !== "object" || properties === null || Array.isArray(properties)) {
      throw new DripFeedError("INVALID_FIELD", `the Golem agreement's ${name} has no properties object`, name);
    }
    return part as Record<string, unknown>;
  };
  if (typeof obj.agreementId !== "string") {
    throw new DripFeedError("INVALID_FIELD", "the Golem agreement has no agreementId string", "agreementId");
  }
  const demand = side("demand");
  const offer = side("offer");
  return {
    agreementId: obj.agreementId,
    agreementKey: agreementIdToBytes32(obj.agreementId),
    state: typeof obj.state === "string" ? obj.state : undefined,
    demand: flattenProperties(demand.properties as MarketProperties),
    offer: flattenProperties(offer.properties as MarketProperties),
    providerId: typeof offer.providerId === "string" ? offer.providerId : undefined,
    requestorId: typeof demand.requestorId === "string" ? demand.requestorId : undefined,
  };
}

/** What the market negotiated that DripFeed's terms must match (undefined where the agreement does not say). */
export interface NegotiatedTerms {
  debitNoteInterval?: number;
  paymentTimeout?: number;
  acceptTimeout?: number;
  platform?: string;
  /** The provider's payment address on the chosen platform (from the offer). */
  payee?: string;
  /** Linear pricing, as decimal strings in token units. */
  pricing?: LinearPricing;
}

export interface LinearPricing {
  /** The fixed coefficient: the start price. */
  startPrice: string;
  /** Price per second of `golem.usage.duration_sec`, if counted. */
  perDurationSecond?: string;
  /** Price per CPU second of `golem.usage.cpu_sec`, if counted. */
  perCpuSecond?: string;
  /** `golem.inf.cpu.threads` (CPU seconds accrue this many per second at full use); 1 when not given. */
  threads: number;
  /** Counters priced that the per-hour figure leaves out (neither duration nor CPU time). */
  otherCounters: string[];
}

/** Agreement properties (demand first, then offer: both sides carry the negotiated ones) read as numbers. */
export function negotiatedTerms(agreement: GolemAgreement): NegotiatedTerms {
  const pick = (key: string): unknown => agreement.demand[key] ?? agreement.offer[key];
  const seconds = (key: string): number | undefined => {
    const value = pick(key);
    if (value === undefined) return undefined;
    const n = typeof value === "string" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) {
      throw new DripFeedError("INVALID_FIELD", `property ${key} must be a whole number of seconds`, key);
    }
    return n;
  };
  const platform = pick(GOLEM_PROPERTIES.chosenPlatform);
  const platformName = typeof platform === "string" ? platform : undefined;
  const payee = platformName ? agreement.offer[`golem.com.payment.platform.${platformName}.address`] : undefined;
  return {
    debitNoteInterval: seconds(GOLEM_PROPERTIES.debitNoteInterval),
    paymentTimeout: seconds(GOLEM_PROPERTIES.paymentTimeout),
    acceptTimeout: seconds(GOLEM_PROPERTIES.acceptTimeout),
    platform: platformName,
    payee: typeof payee === "string" ? payee : undefined,
    pricing: linearPricing(agreement.offer),
  };
}

function linearPricing(offer: MarketProperties): LinearPricing | undefined {
  const coeffs = offer[GOLEM_PROPERTIES.linearCoeffs];
  const vector = offer[GOLEM_PROPERTIES.usageVector] ?? offer["golem.usage.vector"];
  if (!Array.isArray(coeffs) || !Array.isArray(vector) || coeffs.length !== vector.length + 1) return undefined;
  if (!coeffs.every((c) => typeof c === "number" && Number.isFinite(c) && c >= 0)) return undefined;
  const numbers = coeffs as number[];
  const counters = vector.map(String);
  const at = (counter: string): string | undefined => {
    const i = counters.indexOf(counter);
    return i < 0 ? undefined : decimalOf(numbers[i]);
  };
  const threads = Number(offer[GOLEM_PROPERTIES.cpuThreads] ?? 1);
  return {
    // Golem's standard puts the fixed coefficient last: price = counters . coeffs[0..n-1] + coeffs[n].
    startPrice: decimalOf(numbers[numbers.length - 1]),
    perDurationSecond: at("golem.usage.duration_sec"),
    perCpuSecond: at("golem.usage.cpu_sec"),
    threads: Number.isInteger(threads) && threads > 0 ? threads : 1,
    otherCounters: counters.filter((c) => c !== "golem.usage.duration_sec" && c !== "golem.usage.cpu_sec"),
  };
}

/** A JSON number as a plain decimal string (no exponent): the shortest form that reads back as the same number. */
export function decimalOf(value: number): string {
  const text = String(value);
  const match = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, whole, fraction = "", exp] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exp);
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`.replace(/0+$/, "");
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}
