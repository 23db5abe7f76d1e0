#!/usr/bin/env node
// run_models.js - run real TF.js graph models on deterministic inputs, record their outputs.
//
// Usage: node run_models.js JOB_JSON OUT_JSON
//
// JOB_JSON: {"sample": S, "models": [{"name", "dir", "model_file", "seed",
//            "inputs": [{"name", "shape", "dtype", "range": [lo, hi]}],
//            "full_outputs": [names of outputs stored whole]}]}
// OUT_JSON: {name: {"method", "generator", "inputs": [{"name", "sha256"}],
//                   "outputs": [{"name", "dtype", "shape", "stats", "sample"}], "seconds"}
//            | {"error"}}
//
// Each model is read from its folder as the package ships it: model.json + shards, or
// the UMD modules nsfwjs ships (model.min.js, <shard>.min.js holding base64), which
// are require()d as nsfwjs itself does. It is loaded with tf.loadGraphModel on the
// pure-JS CPU backend and run with model.execute on model.outputNodes, or with
// model.executeAsync when TF.js says the graph needs it (control flow, NMS).
//
// Inputs: one mulberry32(seed) stream over all inputs in order, row-major, as
// ../shared/tools/tfjs-reference/make_reference.js draws them: float32 values
// fround(lo + (hi - lo) * r) (kept below hi), int32 values lo + floor(r * (hi - lo)). The tests
// redraw them in Python and check the recorded sha256 of their bytes.
//
// Outputs: stats over the whole tensor (float64 sums) and a fixed subsample: every
// element when there are at most S, else the elements at floor(k * N / S), k < S;
// plus the first argmin and argmax. Requires @tensorflow/tfjs 4.22.0 on NODE_PATH.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(rand, spec) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const [lo, hi] = spec.range;
  if (spec.dtype === 'int32') {
    const arr = new Int32Array(n);
    for (let i = 0; i < n; i++) arr[i] = lo + Math.floor(rand() * (hi - lo));
    return arr;
  }
  if (spec.dtype !== 'float32') throw new Error(`input dtype ${spec.dtype} is not drawn`);
  const arr = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = Math.fround(lo + (hi - lo) * rand());
    if (v >= hi) v = Math.fround(lo + (hi - lo) * 0.99999994);
    arr[i] = v;
  }
  return arr;
}

function bytesOf(typed) {
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
}

function readArtifacts(dir, modelFile) {
  const wrapped = modelFile.endsWith('.min.js');
  const modelJSON = wrapped ? require(path.resolve(dir, modelFile))
      : JSON.parse(fs.readFileSync(path.join(dir, modelFile), 'utf8'));
  const loadWeights = async (manifest) => {
    const specs = [];
    const buffers = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const file = path.resolve(dir, decodeURIComponent(p.split('?')[0]));
        buffers.push(wrapped ? Buffer.from(require(file + '.min.js'), 'base64')
                             : fs.readFileSync(file));
      }
    }
    const all = Buffer.concat(buffers);
    return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
  };
  return tf.io.getModelArtifactsForJSON(modelJSON, loadWeights);
}

function record(t, sample) {
  const data = t.dataSync();
  const n = data.length;
  let sum = 0, sumAbs = 0, sumSq = 0, nan = 0;
  let min = Infinity, max = -Infinity, argmin = -1, argmax = -1;
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    if (Number.isNaN(v)) { nan++; continue; }
    sum += v; sumAbs += Math.abs(v); sumSq += v * v;
    if (v < min) { min = v; argmin = i; }
    if (v > max) { max = v; argmax = i; }
  }
  const finite = n - nan;
  const count = Math.min(n, sample);
  const picked = t.dtype === 'int32' || t.dtype === 'bool' ? new Int32Array(count)
      : new Float32Array(count);
  for (let k = 0; k < count; k++) {
    picked[k] = Number(data[n <= sample ? k : Math.floor((k * n) / sample)]);
  }
  return {
    dtype: t.dtype, shape: t.shape, size: n,
    stats: {min: finite ? min : null, max: finite ? max : null, argmin, argmax, nan,
            sum, mean: finite ? sum / finite : null, mean_abs: finite ? sumAbs / finite : null,
            rms: finite ? Math.sqrt(sumSq / finite) : null},
    sample: {count, b64: bytesOf(picked).toString('base64')},
  };
}

async function runModel(spec, sample) {
  const artifacts = await readArtifacts(spec.dir, spec.model_file);
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const rand = mulberry32(spec.seed);
  const feeds = {};
  const inputs = [];
  for (const input of spec.inputs) {
    const values = draw(rand, input);
    inputs.push({name: input.name,
                 sha256: crypto.createHash('sha256').update(bytesOf(values)).digest('hex')});
    feeds[input.name] = tf.tensor(values, input.shape, input.dtype);
  }
  const names = model.outputNodes;
  const start = Date.now();
  let method = 'execute';
  let outs;
  try {
    outs = model.execute(feeds, names);
  } catch (err) {
    if (!/executeAsync/.test(String(err && err.message))) throw err;
    method = 'executeAsync';
    outs = await model.executeAsync(feeds, names);
  }
  if (!Array.isArray(outs)) outs = [outs];
  const seconds = (Date.now() - start) / 1000;
  const full = new Set(spec.full_outputs || []);
  const outputs = outs.map((t, i) => ({name: names[i],
                                       ...record(t, full.has(names[i]) ? t.size : sample)}));
  tf.dispose([...outs, ...Object.values(feeds)]);
  model.dispose();
  return {method, generator: `@tensorflow/tfjs ${tf.version.tfjs} ${tf.getBackend()} backend, node`,
          inputs, outputs, seconds};
}

async function main() {
  const [jobFile, outFile] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
  const out = {};
  for (const spec of job.models) {
    try {
      out[spec.name] = await runModel(spec, job.sample);
      process.stderr.write(`${spec.name}: ${out[spec.name].method} ${out[spec.name].seconds}s\n`);
    } catch (err) {
      out[spec.name] = {error: String((err && err.stack) || err)};
      process.stderr.write(`${spec.name}: ERROR ${out[spec.name].error.split('\n')[0]}\n`);
    }
  }
  fs.writeFileSync(outFile, JSON.stringify(out));
}

main().catch((err) => { console.error(err); process.exit(1); });
