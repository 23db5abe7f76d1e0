#!/usr/bin/env node
// run_cases.js - run one-node TF.js graph models and record their outputs.
//
// Usage: node run_cases.js CASES_JSON OUT_JSON
//
// CASES_JSON: {case_id: {model: <model.json with weightsManifest>, weights: base64,
//              feeds: [{name, dtype, shape, b64}], outputs: ["op", "op:1", ...]}}
// OUT_JSON:   {case_id: {outputs: [{dtype, shape, b64}], method} | {error}}
//
// Each model is loaded with tf.loadGraphModel (from memory) on the pure-JS CPU
// backend and run with model.execute, or model.executeAsync for the ops TF.js runs
// only that way. Requires @tensorflow/tfjs 4.22.0 on NODE_PATH.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');

function typed(dtype, buf) {
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (dtype === 'float32' || dtype === 'complex64') return new Float32Array(ab);
  if (dtype === 'int32') return new Int32Array(ab);
  if (dtype === 'bool') return new Uint8Array(ab);
  throw new Error(`unsupported feed dtype ${dtype}`);
}

function feedTensor(feed) {
  const data = typed(feed.dtype, Buffer.from(feed.b64, 'base64'));
  if (feed.dtype === 'complex64') {
    const re = data.filter((_, i) => i % 2 === 0);
    const im = data.filter((_, i) => i % 2 === 1);
    return tf.complex(tf.tensor(re, feed.shape), tf.tensor(im, feed.shape));
  }
  return tf.tensor(data, feed.shape, feed.dtype);
}

function record(t) {
  // TF.js may keep another typed array under a tensor's dtype (an int32 Cast to float32
  // keeps its Int32Array): convert, so the bytes are the dtype's.
  const raw = t.dataSync();
  const data = t.dtype === 'float32' && !(raw instanceof Float32Array) ? Float32Array.from(raw)
      : t.dtype === 'int32' && !(raw instanceof Int32Array) ? Int32Array.from(raw) : raw;
  if (t.dtype === 'string') {
    return {dtype: 'string', shape: t.shape,
            strings: Array.from(data, b => Buffer.from(b).toString('utf8'))};
  }
  const bytes = t.dtype === 'bool' ? Buffer.from(Uint8Array.from(data))
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {dtype: t.dtype, shape: t.shape, b64: bytes.toString('base64')};
}

async function runCase(spec) {
  const weights = Buffer.from(spec.weights, 'base64');
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: spec.model.modelTopology,
    weightSpecs: spec.model.weightsManifest.flatMap(g => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    format: 'graph-model',
  }));
  const feeds = {};
  for (const feed of spec.feeds) feeds[feed.name] = feedTensor(feed);
  let outs;
  let method = 'execute';
  try {
    outs = model.execute(feeds, spec.outputs);
  } catch (err) {
    if (!/executeAsync/.test(String(err && err.message))) throw err;
    method = 'executeAsync';
    outs = await model.executeAsync(feeds, spec.outputs);
  }
  if (!Array.isArray(outs)) outs = [outs];
  return {method, outputs: outs.map(record)};
}

async function main() {
  const [casesFile, outFile] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
  const out = {};
  for (const [id, spec] of Object.entries(cases)) {
    try {
      out[id] = await runCase(spec);
    } catch (err) {
      out[id] = {error: String(err && err.message || err)};
    }
  }
  fs.writeFileSync(outFile, JSON.stringify(out));
}

main().catch(err => { console.error(err); process.exit(1); });
