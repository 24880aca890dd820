#!/usr/bin/env node
// Checks the Kubernetes manifests offline, without a cluster:
//  - every document of every DIR/*.yaml against the OpenAPI schema of its
//    kind (the npm package kubernetes-models, 4.5.1: the schemas of
//    Kubernetes 1.27 compiled to validate() methods; 5.x needs node >= 22),
//    and for fields the schema does not know, which `kubectl apply` refuses
//    but those schemas let through;
//  - what no schema sees: references between documents (Secrets and
//    ConfigMaps, a StatefulSet's Service, selectors, ports, the --config
//    file, $(VAR) in args).
// One line per document, then one per problem, naming file, line, document
// and field. Exits 1 when there is a problem, 2 on a usage or internal
// error, 77 (ctest's skip code) when npm is missing or cannot install.
//
//   node validate.mjs [--dir DIR] [--npm NPM --prefix DIR] [--expect-failure]
//
// --dir: the manifests (default: k8s/ of this repository).
// --npm, --prefix: install the locked dependencies with `npm ci` into
//   PREFIX, once per lockfile, and load them from there (as ctest does).
//   Without them they come from tests/k8s/node_modules (`npm ci` there).
// --expect-failure: DIR holds deliberately broken manifests whose
//   `# expect-error: TEXT` comments announce every problem: exit 0 only if
//   each announced problem is reported and nothing else (2 and 77 stay).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SKIP = 77;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");

// Referenced but not defined in the manifests: made by hand with the
// commands of k8s/README.md (keys do not belong in git).
const EXTERNAL = {
  Secret: new Set(["parleyd-tls", "parleyd-auth"]),
  ConfigMap: new Set(),
};

// apiVersion/kind -> [module of kubernetes-models, class]. Any other kind
// is refused: add it here when a manifest needs it.
const KINDS = {
  "v1/ConfigMap": ["kubernetes-models/v1", "ConfigMap"],
  "v1/Secret": ["kubernetes-models/v1", "Secret"],
  "v1/Service": ["kubernetes-models/v1", "Service"],
  "apps/v1/StatefulSet": ["kubernetes-models/apps/v1", "StatefulSet"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1", "PodDisruptionBudget"],
  "networking.k8s.io/v1/NetworkPolicy": ["kubernetes-models/networking.k8s.io/v1", "NetworkPolicy"],
};
const WORKLOADS = new Set(["StatefulSet"]); // kinds with a pod template

class Skip extends Error {}
class Usage extends Error {}

function parseArgs(argv) {
  const o = { dir: path.join(REPO, "k8s"), npm: null, prefix: null, expectFailure: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--dir") o.dir = path.resolve(value());
    else if (a === "--npm") o.npm = value();
    else if (a === "--prefix") o.prefix = path.resolve(value());
    else if (a === "--expect-failure") o.expectFailure = true;
    else throw new Usage(`unknown argument '${a}' (see the comment at the top of ${path.basename(fileURLToPath(import.meta.url))})`);
  }
  if ((o.npm === null) !== (o.prefix === null)) throw new Usage("--npm and --prefix go together");
  return o;
}

// npm ci into PREFIX unless its stamp says this lockfile is installed.
// A registry that cannot be reached is a skip, as for tests/clients.
function install(npm, prefix) {
  if (!npm) throw new Skip("npm is not installed (scripts/setup installs it)");
  if (spawnSync(npm, ["--version"], { stdio: "ignore" }).error)
    throw new Skip(`npm cannot be run ('${npm}'; scripts/setup installs it)`);
  const files = ["package.json", "package-lock.json", ".npmrc"];
  const hash = createHash("sha256");
  for (const f of files) hash.update(fs.readFileSync(path.join(HERE, f)));
  const digest = hash.digest("hex");
  const stamp = path.join(prefix, "node_modules", ".parley-lock.sha256");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === digest) return prefix;
  fs.mkdirSync(prefix, { recursive: true });
  for (const f of files) fs.copyFileSync(path.join(HERE, f), path.join(prefix, f));
  const t0 = Date.now();
  const r = spawnSync(npm, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: prefix,
    encoding: "utf8",
    timeout: 120_000,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (r.error?.code === "ETIMEDOUT") throw new Skip("npm ci did not finish within 120 s (registry unreachable?)");
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.slice(-4000);
    if (/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network/.test(out))
      throw new Skip(`npm ci cannot reach the registry:\n${out}`);
    throw new Error(`npm ci in ${prefix} failed (${r.status ?? r.signal}):\n${out}`);
  }
  fs.writeFileSync(stamp, digest);
  console.log(`npm ci in ${prefix} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return prefix;
}

// -- helpers -------------------------------------------------------------

const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
const obj = (x) => (isObj(x) ? x : {});
const arr = (x) => (Array.isArray(x) ? x : []);
const fieldPath = (segs) =>
  segs.map((s, i) => (typeof s === "number" ? `[${s}]` : i ? `.${s}` : s)).join("");
const display = (p) => {
  const r = path.relative(REPO, p);
  return r.startsWith("..") ? p : r;
};

// A LabelSelector (matchLabels, matchExpressions) against a pod's labels.
function selects(selector, labels) {
  const sel = obj(selector);
  const l = obj(labels);
  for (const [k, v] of Object.entries(obj(sel.matchLabels))) if (l[k] !== v) return false;
  for (const e of arr(sel.matchExpressions)) {
    const has = Object.hasOwn(l, e.key);
    const values = arr(e.values);
    if (e.operator === "In" && !(has && values.includes(l[e.key]))) return false;
    if (e.operator === "NotIn" && has && values.includes(l[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// Wraps a parsed document in proxies that record which keys the schema's
// validate function reads: it reads every property its schema declares
// and, for maps (labels, data, resources), every key. A key never read is
// a field the schema does not have.
function track(value, segs, seen) {
  if (Array.isArray(value)) return value.map((v, i) => track(v, [...segs, i], seen));
  if (!isObj(value)) return value;
  const read = new Set();
  seen.push({ segs, value, read });
  const copy = {};
  for (const [k, v] of Object.entries(value)) copy[k] = track(v, [...segs, k], seen);
  const note = (k) => typeof k === "string" && read.add(k);
  return new Proxy(copy, {
    get: (t, k, r) => (note(k), Reflect.get(t, k, r)),
    has: (t, k) => (note(k), Reflect.has(t, k)),
    getOwnPropertyDescriptor: (t, k) => (note(k), Reflect.getOwnPropertyDescriptor(t, k)),
  });
}

// -- loading ---------------------------------------------------------------

function load(YAML, dir, report) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  if (!files.length) throw new Usage(`no .yaml files in ${dir}`);
  const docs = [];
  const expected = [];
  for (const f of files) {
    const full = path.join(dir, f);
    const file = display(full);
    const text = fs.readFileSync(full, "utf8");
    text.split("\n").forEach((line, i) => {
      const m = /#\s*expect-error:\s*(.*\S)/.exec(line);
      if (m) expected.push({ where: `${file}:${i + 1}`, text: m[1] });
    });
    const lines = new YAML.LineCounter();
    // YAML 1.1, as kubectl reads it: `yes` is a boolean, 0440 is octal.
    const parsed = YAML.parseAllDocuments(text, { version: "1.1", lineCounter: lines, uniqueKeys: true });
    Array.from(parsed).forEach((doc, i) => {
      const d = { file, index: i + 1, doc, lines, obj: null, label: `document ${i + 1}`, problems: 0 };
      const issues = [...doc.errors, ...doc.warnings];
      if (issues.length) {
        for (const e of issues) {
          const line = e.linePos?.[0]?.line ?? "?";
          const msg = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
          report.raw(d, line, `${file}:${line}: ${d.label}: ${msg}`);
        }
        docs.push(d);
        return;
      }
      if (doc.contents === null) return; // an empty document: kubectl skips it too
      const o = doc.toJS();
      if (!isObj(o)) {
        report(d, [], "is not a mapping (an object with apiVersion, kind, metadata)");
        docs.push(d);
        return;
      }
      d.obj = o;
      d.kind = typeof o.kind === "string" ? o.kind : "?";
      d.name = typeof o.metadata?.name === "string" ? o.metadata.name : "(no name)";
      d.label = `document ${i + 1} (${d.kind} ${d.name})`;
      docs.push(d);
    });
  }
  return { docs, expected };
}

// -- the schema of each document ---------------------------------------------

function checkSchemas(req, docs, report) {
  const seenNames = new Map();
  for (const d of docs) {
    if (!d.obj) continue;
    const key = `${d.obj.apiVersion}/${d.obj.kind}`;
    const entry = KINDS[key];
    if (!entry) {
      report(d, ["kind"], `unknown kind '${key}' (known: ${Object.keys(KINDS).join(", ")})`);
      continue;
    }
    const Model = req(entry[0])[entry[1]];
    if (typeof d.obj.metadata?.name !== "string" || !d.obj.metadata.name)
      report(d, ["metadata", "name"], "is required (kubectl apply needs a name)");
    const id = `${key}/${d.obj.metadata?.name}`;
    if (typeof d.obj.metadata?.name !== "string") {
      // reported above
    } else if (seenNames.has(id)) report(d, ["metadata", "name"], `${d.kind} ${d.name} is defined twice (also ${seenNames.get(id)})`);
    else seenNames.set(id, `${d.file} ${d.label}`);

    const bad = new Map(); // field path -> messages
    try {
      new Model(d.obj).validate();
    } catch (e) {
      if (!Array.isArray(e.errors)) throw e;
      for (const err of e.errors) {
        const segs = err.instancePath.split("/").slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
        let msg = err.message;
        if (err.keyword === "required") {
          segs.push(err.params.missingProperty);
          msg = "is required";
        } else if (err.keyword === "enum") {
          msg += `: ${err.params.allowedValues.join(", ")}`;
        }
        const k = JSON.stringify(segs);
        if (!bad.has(k)) bad.set(k, { segs, msgs: [] });
        if (!bad.get(k).msgs.includes(msg)) bad.get(k).msgs.push(msg);
      }
    }
    for (const { segs, msgs } of bad.values()) report(d, segs, msgs.join("; "));

    // Unknown fields, except below a field already reported (a string
    // where an object belongs has all its keys unread).
    const seen = [];
    try {
      Model.prototype.validate.call(track(d.obj, [], seen));
    } catch {
      // reported above
    }
    // Reported fields and unknown ones: nothing below them is reported.
    const known = [...bad.values()].map((b) => b.segs);
    const under = (segs) => known.some((k) => k.every((s, i) => segs[i] === s));
    for (const { segs, value, read } of seen)
      for (const k of Object.keys(value))
        if (!read.has(k) && !under([...segs, k])) {
          report(d, [...segs, k], `unknown field (not in the schema of ${d.kind})`);
          known.push([...segs, k]);
        }
  }
}

// -- references between documents ---------------------------------------------

function checkReferences(docs, dir, report) {
  const all = docs.filter((d) => d.obj);
  const find = (kind, name) => all.find((d) => d.obj.kind === kind && d.name === name);
  const workloads = all.filter((d) => WORKLOADS.has(d.obj.kind));
  const podLabels = (w) => obj(obj(obj(w.obj.spec).template).metadata).labels;
  const selected = (selector) => workloads.filter((w) => selects(selector, podLabels(w)));
  const dirName = display(dir) || ".";

  // A Secret or ConfigMap: defined in DIR or documented as made by hand;
  // named keys must exist in one that is defined.
  function requireRef(d, kind, ref, segs, keys) {
    if (!isObj(ref) || ref.optional === true) return;
    const name = kind === "Secret" && "secretName" in ref ? ref.secretName : ref.name;
    const nameSegs = [...segs, kind === "Secret" && "secretName" in ref ? "secretName" : "name"];
    const def = find(kind, name);
    if (!def) {
      if (!EXTERNAL[kind].has(name))
        report(d, nameSegs, `${kind} '${name}' is neither defined in ${dirName} nor a documented external ${kind} (${[...EXTERNAL[kind]].join(", ") || "none"})`);
      return;
    }
    const have = new Set([...Object.keys(obj(def.obj.data)), ...Object.keys(obj(def.obj.binaryData)), ...Object.keys(obj(def.obj.stringData))]);
    for (const [i, key] of keys)
      if (!have.has(key)) report(d, [...segs, ...i], `${kind} '${name}' has no key '${key}'`);
  }

  for (const w of workloads) {
    const spec = obj(w.obj.spec);
    const pod = obj(obj(spec.template).spec);
    const podSegs = ["spec", "template", "spec"];

    if (w.obj.kind === "StatefulSet") {
      const svc = all.find((d) => d.file === w.file && d.obj.kind === "Service" && d.name === spec.serviceName);
      if (!svc) report(w, ["spec", "serviceName"], `names no Service defined in ${w.file}`);
      else if (obj(svc.obj.spec).clusterIP !== "None")
        report(w, ["spec", "serviceName"], `Service '${spec.serviceName}' is not headless (clusterIP: None): the pods would get no stable DNS names`);
    }
    if (!selects(spec.selector, podLabels(w)))
      report(w, ["spec", "selector"], `does not match the pods' labels (spec.template.metadata.labels: ${JSON.stringify(podLabels(w) ?? {})})`);

    const volumes = new Map();
    arr(pod.volumes).forEach((v, i) => {
      if (!isObj(v)) return;
      const vs = [...podSegs, "volumes", i];
      volumes.set(v.name, v);
      const items = (src) => arr(obj(src).items).map((it, j) => [["items", j, "key"], obj(it).key]);
      if (v.secret) requireRef(w, "Secret", v.secret, [...vs, "secret"], items(v.secret));
      if (v.configMap) requireRef(w, "ConfigMap", v.configMap, [...vs, "configMap"], items(v.configMap));
      arr(obj(v.projected).sources).forEach((s, j) => {
        const ss = [...vs, "projected", "sources", j];
        if (obj(s).secret) requireRef(w, "Secret", s.secret, [...ss, "secret"], items(s.secret));
        if (obj(s).configMap) requireRef(w, "ConfigMap", s.configMap, [...ss, "configMap"], items(s.configMap));
      });
    });
    const claims = new Set(arr(spec.volumeClaimTemplates).map((c) => obj(obj(c).metadata).name));

    const containers = [
      ...arr(pod.initContainers).map((c, i) => [c, [...podSegs, "initContainers", i]]),
      ...arr(pod.containers).map((c, i) => [c, [...podSegs, "containers", i]]),
    ];
    for (const [c0, cs] of containers) {
      const c = obj(c0);
      const env = arr(c.env).map((e) => obj(e));
      env.forEach((e, i) => {
        const from = obj(e.valueFrom);
        if (from.secretKeyRef) requireRef(w, "Secret", { name: from.secretKeyRef.name, optional: from.secretKeyRef.optional }, [...cs, "env", i, "valueFrom", "secretKeyRef"], [[["key"], from.secretKeyRef.key]]);
        if (from.configMapKeyRef) requireRef(w, "ConfigMap", from.configMapKeyRef, [...cs, "env", i, "valueFrom", "configMapKeyRef"], [[["key"], from.configMapKeyRef.key]]);
      });
      arr(c.envFrom).forEach((e, i) => {
        if (obj(e).secretRef) requireRef(w, "Secret", { name: e.secretRef.name, optional: e.secretRef.optional }, [...cs, "envFrom", i, "secretRef"], []);
        if (obj(e).configMapRef) requireRef(w, "ConfigMap", e.configMapRef, [...cs, "envFrom", i, "configMapRef"], []);
      });

      const mounts = arr(c.volumeMounts).map((m) => obj(m));
      mounts.forEach((m, i) => {
        if (!volumes.has(m.name) && !claims.has(m.name))
          report(w, [...cs, "volumeMounts", i, "name"], `'${m.name}' is neither a volume of the pod nor a volumeClaimTemplate`);
      });

      // $(VAR) that names no variable is passed on literally by Kubernetes.
      if (!arr(c.envFrom).length) {
        const checkVars = (s, segs, known) => {
          if (typeof s !== "string") return;
          for (const m of s.matchAll(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g))
            if (m[1] && !known.includes(m[1]))
              report(w, segs, `$(${m[1]}) names no env variable of container '${c.name}' (Kubernetes would pass it on literally)`);
        };
        const names = env.map((e) => e.name);
        for (const field of ["command", "args"]) arr(c[field]).forEach((s, i) => checkVars(s, [...cs, field, i], names));
        env.forEach((e, i) => checkVars(e.value, [...cs, "env", i, "value"], names.slice(0, i)));
      }

      // The --config file: under a mount, and a key of its ConfigMap.
      for (const field of ["command", "args"]) {
        const a = arr(c[field]);
        a.forEach((s, i) => {
          let file, at;
          if (s === "--config") [file, at] = [a[i + 1], i + 1];
          else if (typeof s === "string" && s.startsWith("--config=")) [file, at] = [s.slice(9), i];
          else return;
          const segs = [...cs, field, at];
          if (typeof file !== "string" || !file.startsWith("/")) {
            report(w, segs, `--config needs an absolute path in the container (got ${JSON.stringify(file)})`);
            return;
          }
          const m = mounts
            .filter((m) => typeof m.mountPath === "string" && (file === m.mountPath || file.startsWith(m.mountPath.replace(/\/$/, "") + "/")))
            .sort((x, y) => y.mountPath.length - x.mountPath.length)[0];
          if (!m) {
            report(w, segs, `--config ${file} is not under a volumeMount of container '${c.name}' (${mounts.map((m) => m.mountPath).join(", ") || "none"})`);
            return;
          }
          const v = volumes.get(m.name);
          const cm = v?.configMap && find("ConfigMap", v.configMap.name);
          if (!cm || m.subPath) return;
          const rel = path.posix.relative(m.mountPath, file);
          const provided = v.configMap.items ? arr(v.configMap.items).map((it) => obj(it).path) : Object.keys({ ...obj(cm.obj.data), ...obj(cm.obj.binaryData) });
          if (!provided.includes(rel))
            report(w, segs, `--config ${file}: ConfigMap '${cm.name}' mounted at ${m.mountPath} provides no '${rel}' (it has: ${provided.join(", ") || "nothing"})`);
        });
      }

      // Probes name a declared port of their container.
      const ports = arr(c.ports).map((p) => obj(p));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"])
        for (const action of ["httpGet", "tcpSocket", "grpc"]) {
          const port = obj(obj(c[probe])[action]).port;
          if (port === undefined) continue;
          const ok = typeof port === "number" ? ports.some((p) => p.containerPort === port) : ports.some((p) => p.name === port);
          if (!ok)
            report(w, [...cs, probe, action, "port"], `${port} is not a port of container '${c.name}' (${ports.map((p) => `${p.name ?? "-"} ${p.containerPort}`).join(", ") || "none declared"})`);
        }
    }
  }

  // Services: select pods here, and their target ports exist on them.
  for (const s of all.filter((d) => d.obj.kind === "Service")) {
    const spec = obj(s.obj.spec);
    if (!isObj(spec.selector) || !Object.keys(spec.selector).length) continue; // endpoints managed elsewhere
    const pods = selected({ matchLabels: spec.selector });
    if (!pods.length) {
      report(s, ["spec", "selector"], `selects no pods of a workload in ${dirName}`);
      continue;
    }
    arr(spec.ports).forEach((p0, i) => {
      const p = obj(p0);
      const target = p.targetPort ?? p.port;
      for (const w of pods) {
        const ports = arr(obj(obj(w.obj.spec).template).spec?.containers).flatMap((c) => arr(obj(c).ports).map((x) => obj(x)));
        const ok = typeof target === "number" ? ports.some((x) => x.containerPort === target) : ports.some((x) => x.name === target);
        if (!ok) report(s, ["spec", "ports", i, p.targetPort === undefined ? "port" : "targetPort"], `${target} is not a container port of ${w.obj.kind} '${w.name}'`);
      }
    });
  }

  // Budgets and policies that select nothing protect nothing.
  for (const b of all.filter((d) => d.obj.kind === "PodDisruptionBudget"))
    if (!selected(obj(b.obj.spec).selector).length) report(b, ["spec", "selector"], `selects no pods of a workload in ${dirName}`);
  for (const n of all.filter((d) => d.obj.kind === "NetworkPolicy")) {
    const spec = obj(n.obj.spec);
    if (!selected(spec.podSelector).length) report(n, ["spec", "podSelector"], `selects no pods of a workload in ${dirName}`);
    for (const dirn of ["ingress", "egress"])
      arr(spec[dirn]).forEach((r, i) =>
        arr(obj(r)[dirn === "ingress" ? "from" : "to"]).forEach((peer, j) => {
          const ps = obj(peer);
          if (ps.podSelector && !ps.namespaceSelector && !selected(ps.podSelector).length)
            report(n, ["spec", dirn, i, dirn === "ingress" ? "from" : "to", j, "podSelector"], `selects no pods of a workload in ${dirName}`);
        }),
      );
  }
}

// -- main --------------------------------------------------------------------------

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.dir)) throw new Usage(`no directory ${opts.dir}`);
  const base = opts.prefix ? install(opts.npm, opts.prefix) : HERE;
  const req = createRequire(path.join(base, "package.json"));
  let YAML;
  try {
    YAML = req("yaml");
    req("kubernetes-models/v1");
  } catch {
    throw new Usage(`no dependencies in ${path.join(base, "node_modules")}: run \`npm ci\` in tests/k8s, or pass --npm and --prefix`);
  }

  const problems = [];
  const report = (d, segs, msg) => {
    let line = "?";
    for (let i = segs.length; i >= 0; i--) {
      const n = i ? d.doc.getIn(segs.slice(0, i), true) : d.doc.contents;
      if (n?.range) {
        line = d.lines.linePos(n.range[0]).line;
        break;
      }
    }
    report.raw(d, line, `${d.file}:${line}: ${d.label}: ${segs.length ? `${fieldPath(segs)}: ` : ""}${msg}`);
  };
  report.raw = (d, line, text) => {
    d.problems++;
    problems.push({ file: d.file, line: typeof line === "number" ? line : 0, text });
  };

  const { docs, expected } = load(YAML, opts.dir, report);
  checkSchemas(req, docs, report);
  checkReferences(docs, opts.dir, report);
  const texts = problems
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line) // stable: same line, order found
    .map((p) => p.text);

  for (const d of docs)
    console.log(`${d.problems ? "FAIL" : "ok  "} ${d.file} document ${d.index}${d.obj ? `: ${d.obj.apiVersion} ${d.kind} ${d.name}` : ""}`);
  if (texts.length) console.log(`\n${texts.length} problem(s):\n${texts.map((p) => `  ${p}`).join("\n")}`);
  else console.log(`\n${docs.length} documents in ${display(opts.dir) || "."}: valid`);

  if (!opts.expectFailure) return texts.length ? 1 : 0;
  // A fixture of broken manifests: every problem announced, none other.
  if (!expected.length) throw new Usage(`--expect-failure: no '# expect-error: TEXT' comments in ${opts.dir}`);
  const missing = expected.filter((e) => !texts.some((p) => p.includes(e.text)));
  const unannounced = texts.filter((p) => !expected.some((e) => p.includes(e.text)));
  for (const e of missing) console.log(`FAIL: ${e.where} announces a problem containing '${e.text}', which was not reported`);
  for (const p of unannounced) console.log(`FAIL: a problem no '# expect-error:' announces: ${p}`);
  if (missing.length || unannounced.length) return 1;
  console.log(`ok: refused, with the ${expected.length} announced problems`);
  return 0;
}

let code;
try {
  code = main();
} catch (e) {
  if (e instanceof Skip) {
    console.log(`SKIP: ${e.message}`);
    code = SKIP;
  } else if (e instanceof Usage) {
    console.error(`validate.mjs: ${e.message}`);
    code = 2;
  } else {
    console.error(e?.stack ?? String(e));
    code = 2;
  }
}
process.exitCode = code;
