// One TF.js measurement in Node (the protocol of common.py, in JavaScript).
//
// usage: NODE_PATH=<folder with node_modules> node tfjs_runner.js --model DIR --inputs inputs.json
//          --out result.json [--backend cpu|wasm] [--repeats N] [--batch-repeats N] [--no-batch]
//          [--output-file out.bin]
//
// --model is a model folder (model.json; else model.min.js or its only .json file) or
// the model file itself. nsfwjs-style JS modules (model.min.js, <shard>.min.js holding
// base64) are require()d, as nsfwjs itself loads them.
//
// load_ms = read model.json + shards, then tf.loadLayersModel(tf.io.fromMemory(...)), or
// for a graph model (format "graph-model", a GraphDef) tf.loadGraphModel(tf.io.fromMemory(
// {modelTopology, weightSpecs, weightData, format, signature, userDefinedMetadata, ...})).
// Every timed call builds the input tensors from the typed arrays, runs predict (Layers)
// or execute(feeds by input name, model.outputNodes) (graph; executeAsync from the first
// call on when TF.js says the graph needs it: control flow, dynamic shapes), waits for
// data() of every output, then disposes the tensors.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const a = { backend: 'wasm', repeats: 20, batchRepeats: 5, batch: true, outputFile: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--model') a.model = argv[++i];
    else if (k === '--inputs') a.inputs = argv[++i];
    else if (k === '--out') a.out = argv[++i];
    else if (k === '--output-file') a.outputFile = argv[++i];
    else if (k === '--backend') a.backend = argv[++i];
    else if (k === '--repeats') a.repeats = Number(argv[++i]);
    else if (k === '--batch-repeats') a.batchRepeats = Number(argv[++i]);
    else if (k === '--no-batch') a.batch = false;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.model || !a.inputs || !a.out) {
    throw new Error('--model, --inputs and --out are required');
  }
  return a;
}

const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

function readInputs(file) {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const folder = path.dirname(file);
  const read = (item, which) => {
    const buf = fs.readFileSync(path.join(folder, item[which]));
    const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    return { name: item.name, data: new ARRAYS[item.dtype](copy), shape: item[`shape_${which}`],
             dtype: item.dtype };
  };
  const b1 = spec.inputs.map((item) => read(item, 'b1'));
  const bB = spec.batch ? spec.inputs.map((item) => read(item, 'bB')) : null;
  return { b1, bB };
}

function machineState() {
  const state = { loadavg1: os.loadavg()[0] };
  try {
    const line = fs.readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0];
    state.psi_cpu_some_avg10 = Number(line.split(' ')[1].split('=')[1]);
  } catch (e) { /* not Linux */ }
  return state;
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  const n = s.length;
  return n === 0 ? null : (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2);
};
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function findModelFile(where) {
  if (!fs.statSync(where).isDirectory()) return where;
  for (const name of ['model.json', 'model.min.js']) {
    if (fs.existsSync(path.join(where, name))) return path.join(where, name);
  }
  const jsons = fs.readdirSync(where).filter((f) => f.endsWith('.json') && f !== 'metadata.json');
  if (jsons.length === 1) return path.join(where, jsons[0]);
  throw new Error(`${where}: no model.json (pass the model file)`);
}

function isGraphModel(modelJson) {
  const topology = modelJson.modelTopology;
  return modelJson.format === 'graph-model' ||
      (topology != null && Array.isArray(topology.node));
}

async function loadModel(tf, where) {
  const file = findModelFile(where);
  const dir = path.dirname(file);
  const wrapped = file.endsWith('.js');
  const modelJson = wrapped ? require(path.resolve(file))
      : JSON.parse(fs.readFileSync(file, 'utf8'));
  const specs = [];
  const shards = [];
  for (const group of modelJson.weightsManifest || []) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const shard = path.resolve(dir, decodeURIComponent(p.split('?')[0]));
      if (!fs.existsSync(shard) && fs.existsSync(shard + '.min.js')) {
        shards.push(Buffer.from(require(shard + '.min.js'), 'base64'));
      } else {
        shards.push(fs.readFileSync(shard));
      }
    }
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  if (!isGraphModel(modelJson)) {
    return { graph: false, model: await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData })) };
  }
  const artifacts = { modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData,
                      format: modelJson.format || 'graph-model' };
  for (const key of ['generatedBy', 'convertedBy', 'signature', 'userDefinedMetadata',
                     'modelInitializer', 'initializerSignature']) {
    if (modelJson[key] != null) artifacts[key] = modelJson[key];
  }
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  return { graph: true, model, method: 'execute' };
}

async function run(tf, loaded, inputs) {
  const xs = inputs.map((x) => tf.tensor(x.data, x.shape, x.dtype));
  let y;
  if (!loaded.graph) {
    y = loaded.model.predict(xs.length === 1 ? xs[0] : xs);
  } else {
    const feeds = {};
    inputs.forEach((x, i) => { feeds[x.name] = xs[i]; });
    const names = loaded.model.outputNodes;
    if (loaded.method === 'execute') {
      try {
        y = loaded.model.execute(feeds, names);
      } catch (err) {
        if (!/executeAsync/.test(String(err && err.message))) throw err;
        loaded.method = 'executeAsync';
      }
    }
    if (loaded.method === 'executeAsync') y = await loaded.model.executeAsync(feeds, names);
  }
  const ys = Array.isArray(y) ? y : [y];
  const data = await Promise.all(ys.map((t) => t.data()));
  const shapes = ys.map((t) => t.shape);
  tf.dispose([...xs, ...ys]);
  return { data, shapes };
}

async function timed(tf, model, inputs) {
  const start = nowMs();
  const out = await run(tf, model, inputs);
  return [nowMs() - start, out];
}

async function measure(a) {
  const result = {
    system: `tfjs-${a.backend}`, state_start: machineState(), node: process.version };
  let start = nowMs();
  const tf = require('@tensorflow/tfjs');
  if (a.backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(a.backend);
  await tf.ready();
  result.import_ms = nowMs() - start;
  result.versions = { tfjs: tf.version.tfjs };
  result.backend = tf.getBackend();
  if (a.backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    result.versions.wasm = wasm.version_wasm;
    if (typeof wasm.getThreadsCount === 'function') result.wasm_threads = wasm.getThreadsCount();
  }

  const inputs = readInputs(a.inputs);
  start = nowMs();
  const model = await loadModel(tf, a.model);
  result.load_ms = nowMs() - start;

  const [firstMs, first] = await timed(tf, model, inputs.b1);
  if (model.graph) {
    result.graph_model = true;
    result.method = model.method;
    result.output_nodes = model.model.outputNodes;
  }
  const b1 = [];
  for (let i = 0; i < a.repeats; i++) b1.push((await timed(tf, model, inputs.b1))[0]);
  Object.assign(result, {
    first_ms: firstMs, b1_all: b1, b1_ms: median(b1), output_shapes: first.shapes });
  if (a.outputFile) {
    const total = first.data.reduce((n, d) => n + d.length, 0);
    const flat = new Float32Array(total);
    let offset = 0;
    for (const d of first.data) { flat.set(d, offset); offset += d.length; }
    fs.writeFileSync(a.outputFile, Buffer.from(flat.buffer));
    result.output_file = a.outputFile;
  }
  if (a.batch && inputs.bB) {
    const batch = inputs.bB[0].shape[0];
    const [warmMs] = await timed(tf, model, inputs.bB);
    const tb = [];
    for (let i = 0; i < a.batchRepeats; i++) tb.push((await timed(tf, model, inputs.bB))[0]);
    Object.assign(result, { batch, bB_first_ms: warmMs, bB_all: tb, bB_ms: median(tb),
                            bB_img_s: batch / (median(tb) / 1000) });
  }
  result.state_end = machineState();
  return result;
}

(async () => {
  const a = parseArgs(process.argv.slice(2));
  let result;
  let rc = 0;
  try {
    result = await measure(a);
  } catch (e) {
    console.error(e);
    result = { system: `tfjs-${a.backend}`, error: String(e && e.message || e).slice(0, 500) };
    rc = 1;
  }
  fs.writeFileSync(a.out, JSON.stringify(result, null, 1) + '\n');
  process.exit(rc);
})();
