// Run a TF.js Layers model loaded from ONE concatenated weight buffer (tf.io.fromMemory),
// which avoids TF.js's CompositeArrayBuffer bug for shard sets whose last file is larger.
// Usage: node predict_from_memory.js MODEL_DIR OUT_DIR in_0.npy [in_1.npy ...]
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.slice(10, 10 + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter(s => s.trim()).map(Number);
  const data = buf.slice(10 + headerLen);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const values = descr === '<i4' ? new Int32Array(ab) : new Float32Array(ab);
  return tf.tensor(values, shape, descr === '<i4' ? 'int32' : 'float32');
}

function writeNpy(file, tensor) {
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.dataSync().buffer);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), data]));
}

async function main() {
  const [dir, out, ...inputs] = process.argv.slice(2);
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of model.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const m = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: model.modelTopology, weightSpecs: specs, weightData}));
  let ys = m.predict(inputs.map(readNpy));
  ys = Array.isArray(ys) ? ys : [ys];
  fs.mkdirSync(out, {recursive: true});
  ys.forEach((y, i) => writeNpy(path.join(out, `out_${i}.npy`), y));
}
main().catch(e => { console.error(e); process.exit(1); });
