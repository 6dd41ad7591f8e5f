/**
 * docs/PROTOCOL.md is what integrators build against: these checks keep it honest against the compiled contract.
 * Every name in DripFeed's ABI must be in the document; every Solidity declaration and struct the document shows
 * must match the ABI; the EIP-712 type string, domain and constants it states must be the contract's; the task
 * names it calls binding must exist.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { AbiCoder, TypedDataEncoder, concat, keccak256, toUtf8Bytes } from "ethers";
import hre from "hardhat";
import type { Artifact } from "hardhat/types";

import { deployFixture } from "../helpers";
import {
  type DocDeclaration,
  type DocParam,
  codeText,
  fencedBlocks,
  readProtocol,
  solidityDeclarations,
  tableRows,
  unquote,
} from "./markdown";

interface AbiParam {
  name: string;
  type: string;
  internalType?: string;
  indexed?: boolean;
  components?: AbiParam[];
}
interface AbiEntry {
  type: string;
  name?: string;
  inputs?: AbiParam[];
  outputs?: AbiParam[];
  stateMutability?: string;
}

/** How the document writes an ABI parameter's type: `IERC20` for `contract IERC20`, `Terms` for `struct Terms`. */
function docTypeOf(param: AbiParam): string {
  const internal = param.internalType ?? param.type;
  return internal.replace(/^(contract|struct|enum) /, "").replace(/^\w+\./, "");
}

function describeParams(params: DocParam[]): string[] {
  return params.map((p) => `${p.type}${p.indexed ? " indexed" : ""} ${p.name}`.trim());
}

/** The ABI's parameters in the document's notation; names only where the document can give one. */
function abiParams(params: AbiParam[] | undefined, withIndexed: boolean): DocParam[] {
  return (params ?? []).map((p) => ({ type: docTypeOf(p), indexed: withIndexed && p.indexed === true, name: p.name }));
}

/** A constant getter: no inputs, pure or view, an upper-case name (`ACCEPT_NOTICE`). */
function isConstantGetter(entry: AbiEntry): boolean {
  return entry.type === "function" && (entry.inputs ?? []).length === 0 && /^[A-Z][A-Z0-9_]*$/.test(entry.name ?? "");
}

/** Every struct the ABI uses, by name, with its fields in the document's notation. */
function abiStructs(abi: AbiEntry[]): Map<string, DocParam[]> {
  const structs = new Map<string, DocParam[]>();
  const visit = (param: AbiParam): void => {
    if (param.components === undefined) return;
    structs.set(docTypeOf(param).replace(/\[\]$/, ""), abiParams(param.components, false));
    param.components.forEach(visit);
  };
  for (const entry of abi) [...(entry.inputs ?? []), ...(entry.outputs ?? [])].forEach(visit);
  return structs;
}

/** `struct Name { type field; ... }` definitions in the document's Solidity. */
function docStructs(solidity: string): Map<string, DocParam[]> {
  const code = solidity.replace(/\/\/.*$/gm, "");
  const structs = new Map<string, DocParam[]>();
  for (const m of code.matchAll(/\bstruct (\w+)\s*\{([^}]*)\}/g)) {
    const fields = m[2]
      .split(";")
      .map((f) => f.trim())
      .filter((f) => f !== "")
      .map((f) => {
        const [type, name] = f.split(/\s+/);
        return { type, indexed: false, name };
      });
    structs.set(m[1], fields);
  }
  return structs;
}

describe("docs/PROTOCOL.md matches the contract", () => {
  const doc = readProtocol();
  const code = codeText(doc);
  const solidity = fencedBlocks(doc)
    .filter((b) => b.lang === "solidity")
    .map((b) => b.body)
    .join("\n");
  const declared = solidityDeclarations(solidity);
  let abi: AbiEntry[];

  before(async () => {
    const artifact: Artifact = await hre.artifacts.readArtifact("DripFeed");
    abi = artifact.abi as AbiEntry[];
  });

  const declarationOf = (kind: DocDeclaration["kind"], name: string): DocDeclaration | undefined =>
    declared.find((d) => d.kind === kind && d.name === name);

  it("is versioned 1.1 and has a Changes in 1.1 section", () => {
    expect(doc.split("\n")[0]).to.equal("# DripFeed protocol 1.1");
    expect(doc).to.match(/^## Changes in 1\.1$/m);
  });

  it("names every function, event and error of the ABI as code", () => {
    const missing = abi
      .filter((e) => ["function", "event", "error"].includes(e.type))
      .filter((e) => !new RegExp(`\\b${e.name}\\b`).test(code))
      .map((e) => `${e.type} ${e.name}`);
    expect(missing, "ABI names absent from the document's code").to.deep.equal([]);
  });

  it("declares every event exactly as the ABI has it (types, names, indexed)", () => {
    for (const event of abi.filter((e) => e.type === "event" && e.name !== "EIP712DomainChanged")) {
      const decl = declarationOf("event", event.name!);
      expect(decl, `event ${event.name} is not declared in a solidity block`).to.not.equal(undefined);
      expect(describeParams(decl!.inputs), `event ${event.name}`).to.deep.equal(
        describeParams(abiParams(event.inputs, true)),
      );
    }
  });

  it("declares every non-constant function with the ABI's parameter and return types", () => {
    for (const fn of abi.filter((e) => e.type === "function" && !isConstantGetter(e))) {
      const decl = declarationOf("function", fn.name!);
      expect(decl, `function ${fn.name} is not declared in a solidity block`).to.not.equal(undefined);
      expect(describeParams(decl!.inputs), `${fn.name} parameters`).to.deep.equal(
        describeParams(abiParams(fn.inputs, false)),
      );
      const outputs = abiParams(fn.outputs, false);
      expect(
        decl!.outputs.map((p) => p.type),
        `${fn.name} return types`,
      ).to.deep.equal(outputs.map((p) => p.type));
      decl!.outputs.forEach((p, i) => {
        if (p.name !== "") expect(p.name, `${fn.name} return ${i}`).to.equal(outputs[i].name);
      });
    }
  });

  it("shows every struct with the ABI's fields in order", () => {
    const documented = docStructs(solidity);
    for (const [name, fields] of abiStructs(abi)) {
      expect(documented.has(name), `struct ${name} is not shown`).to.equal(true);
      expect(describeParams(documented.get(name)!), `struct ${name}`).to.deep.equal(describeParams(fields));
    }
  });

  it("gives the argument types of every error it writes with arguments", () => {
    const written = [...code.matchAll(/\b([A-Z]\w+)\(((?:\w+(?:\[\])? \w+(?:, )?)*)\)/g)];
    const errors = new Map(abi.filter((e) => e.type === "error").map((e) => [e.name!, e]));
    let checked = 0;
    for (const [, name, args] of written) {
      const error = errors.get(name);
      if (error === undefined || args === "") continue;
      checked += 1;
      expect(args, `error ${name}`).to.equal((error.inputs ?? []).map((p) => `${docTypeOf(p)} ${p.name}`).join(", "));
    }
    expect(checked, "errors written with arguments").to.be.greaterThan(10);
  });

  it("states the EIP-712 type string and domain the contract uses", async () => {
    const { dripFeed } = await deployFixture();
    const typeStrings = fencedBlocks(doc)
      .map((b) => b.body.trim())
      .filter((body) => body.startsWith("DebitNoteAcceptance("));
    expect(typeStrings).to.have.length(1);
    // The contract's digest of a message, rebuilt by hand from the documented type string and domain.
    const domain = await dripFeed.eip712Domain();
    const message = {
      poolId: keccak256(toUtf8Bytes("pool")),
      agreementId: keccak256(toUtf8Bytes("agreement")),
      debitNoteId: keccak256(toUtf8Bytes("note")),
      totalAccepted: 123n,
      deadline: 456n,
    };
    const structHash = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["bytes32", "bytes32", "bytes32", "bytes32", "uint256", "uint256"],
        [keccak256(toUtf8Bytes(typeStrings[0])), ...Object.values(message)],
      ),
    );
    const domainSeparator = TypedDataEncoder.hashDomain({
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    });
    expect(await dripFeed.acceptanceDigest(message)).to.equal(
      keccak256(concat(["0x1901", domainSeparator, structHash])),
    );

    expect(doc).to.include(`Domain: \`name = "${domain.name}"\`, \`version = "${domain.version}"\``);
  });

  it("states every constant with the contract's type and value", async () => {
    const { dripFeed } = await deployFixture();
    const rows = tableRows(doc, "name");
    const documented = new Map(rows.map(([name, type, value]) => [unquote(name), { type: unquote(type), value }]));
    const getters = abi.filter(isConstantGetter);
    expect([...documented.keys()].sort()).to.deep.equal(getters.map((g) => g.name!).sort());
    for (const getter of getters) {
      const row = documented.get(getter.name!)!;
      expect(row.type, `${getter.name} type`).to.equal(getter.outputs![0].type);
      if (row.value === "see below") continue;
      const actual = (await dripFeed.getFunction(getter.name!).staticCall()) as bigint;
      expect(BigInt(row.value), `${getter.name} value`).to.equal(actual);
    }
  });

  it("calls binding only task names that the dripfeed scope defines", () => {
    const start = doc.indexOf("Scope `dripfeed`");
    const list = doc.slice(start, doc.indexOf(". ", start));
    const names = [...list.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]).filter((n) => n !== "dripfeed");
    expect(names).to.have.length(12);
    const defined = Object.keys(hre.scopes["dripfeed"].tasks);
    expect(names.filter((n) => !defined.includes(n))).to.deep.equal([]);
  });

  it("lists relay routes that the relay serves", () => {
    const relayDir = path.join(__dirname, "..", "..", "scripts", "relay");
    const source = readdirSync(relayDir)
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(path.join(relayDir, f), "utf8"))
      .join("\n");
    const routes = [...doc.matchAll(/^\| `(GET|POST) (\/\S+)`/gm)].map((m) => ({ method: m[1], path: m[2] }));
    expect(routes).to.have.length(5);
    for (const { method, path: route } of routes) {
      expect(source, `${method} ${route}`).to.match(
        new RegExp(`app\\.${method.toLowerCase()}[^(]*\\(\\s*"${route.replace(/[/:]/g, "\\$&")}"`),
      );
    }
  });
});
