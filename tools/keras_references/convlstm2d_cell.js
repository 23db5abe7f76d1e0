// TF.js reference outputs for the ConvLSTM2DCell graph nodes of CASE_DIR/model.json.
//
// Usage: NODE_PATH=<tfjs-oracle>/node_modules node convlstm2d_cell.js CASE_DIR
// (run by make_references.py). Reads CASE_DIR/model.json, the shard and
// CASE_DIR/ref/in_K.npy (in the model's input order), writes CASE_DIR/ref/out_K.npy
// (in output_layers order) and prints one JSON line {generator, load_error,
// config_roundtrip}.
//
// 1. tf.loadLayersModel on the files: expected to fail (TF.js cannot build a
//    ConvLSTM2DCell as a graph node); the message is reported.
// 2. Each ConvLSTM2DCell layer is deserialized as loadLayersModel would
//    (TF.js's convertPythonicToTs, copied below, then the registered class's
//    fromConfig), its config serialized back with TF.js's convertTsToPythonic
//    (copied below) and compared with the file: the file holds exactly what
//    TF.js writes. Then build(x.shape), setWeights from tf.io.decodeWeights, and
//    call([x, h, c], {training: false}) — what ConvLSTM2D does at every step.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// ---- copied from tfjs-layers 4.22.0 src/utils/{generic_utils,serialization_utils}.ts
function toSnakeCase(name) {
  const intermediate = name.replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2');
  const insecure = intermediate.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  return insecure[0] !== '_' ? insecure : 'private' + insecure;
}
function toCamelCase(identifier) {
  if (identifier.length <= 1) return identifier;
  if (identifier.indexOf('_') === -1) return identifier;
  return identifier.replace(/[_]+(\w|$)/g, (m, p1) => p1.toUpperCase());
}
function isArrayItemInputOrOutputName(key, index, value) {
  return (key === 'inboundNodes' || key === 'outputLayers' || key === 'inputLayers') &&
      index === 0 && typeof value === 'string';
}
function convertPythonicToTs(c, key) {
  if (c === null) return null;
  if (typeof c === 'string') return toCamelCase(c);
  if (typeof c === 'number' || typeof c === 'boolean') return c;
  if (c instanceof Array) {
    return c.map((item, i) => isArrayItemInputOrOutputName(key, i, item) ?
                                  item : convertPythonicToTs(item, key));
  }
  const out = {};
  for (const k of Object.keys(c)) {
    const v = c[k];
    if (k === 'name' && typeof v === 'string') out[k] = v;
    else { const tk = toCamelCase(k); out[tk] = convertPythonicToTs(v, tk); }
  }
  return out;
}
function convertTsToPythonic(c, key) {
  if (c === null || c === undefined) return null;
  if (typeof c === 'string') return toSnakeCase(c);
  if (typeof c === 'number' || typeof c === 'boolean') return c;
  if (c instanceof Array) {
    return c.map((item, i) => isArrayItemInputOrOutputName(key, i, item) ?
                                  item : convertTsToPythonic(item, key));
  }
  const out = {};
  for (const k of Object.keys(c)) {
    const v = c[k];
    const pk = toSnakeCase(k);
    out[pk] = ((k === 'name' || k === 'className') && typeof v === 'string') ?
        v : convertTsToPythonic(v, k);
  }
  return out;
}
// ---- end of copies

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.slice(10, 10 + headerLen).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: expected <f4`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',')
      .filter(s => s.trim()).map(Number);
  const data = buf.slice(10 + headerLen);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return tf.tensor(new Float32Array(ab), shape, 'float32');
}

function writeNpy(file, tensor) {
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)`
                                           : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'),
                                         Buffer.from(tensor.dataSync().buffer)]));
}

function sameJson(a, b) {
  const norm = v => (v && typeof v === 'object' && !Array.isArray(v))
      ? Object.keys(v).sort().reduce((o, k) => (o[k] = norm(v[k]), o), {})
      : Array.isArray(v) ? v.map(norm) : v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

async function main() {
  const dir = process.argv[2];
  const model = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [].concat(...model.weightsManifest.map(g => g.weights));
  const shard = Buffer.concat(model.weightsManifest.map(
      g => Buffer.concat(g.paths.map(p => fs.readFileSync(path.join(dir, p))))));
  const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);

  let loadError = null;
  try {
    await tf.loadLayersModel(tf.io.fromMemory({modelTopology: model.modelTopology,
                                               weightSpecs: specs, weightData}));
    loadError = 'none: tf.loadLayersModel succeeded';
  } catch (e) {
    loadError = e.message;
  }

  const weights = tf.io.decodeWeights(weightData, specs);
  const cfg = model.modelTopology.config;
  const inputNames = cfg.input_layers.map(r => r[0]);
  const inputs = {};
  inputNames.forEach((nm, i) => { inputs[nm] = readNpy(path.join(dir, 'ref', `in_${i}.npy`)); });
  const registry = tf.serialization.SerializationMap.getMap().classNameMap;
  const [cls, fromConfig] = registry['ConvLSTM2DCell'];
  const results = {};
  const roundtrip = {};
  for (const layer of cfg.layers) {
    if (layer.class_name !== 'ConvLSTM2DCell') continue;
    const cell = fromConfig(cls, convertPythonicToTs(layer.config));
    const back = convertTsToPythonic(cell.getConfig());
    roundtrip[layer.name] = sameJson(back, layer.config);
    if (!roundtrip[layer.name]) {
      throw new Error(`${layer.name}: config does not round-trip through TF.js:\n` +
                      `${JSON.stringify(back)}\nvs\n${JSON.stringify(layer.config)}`);
    }
    const [x, h, c] = layer.inbound_nodes[0].map(r => inputs[r[0]]);
    cell.build(x.shape);
    cell.setWeights(cell.weights.map(w => {
      const key = `${layer.name}/${w.originalName.split('/').pop()}`;
      if (!(key in weights)) throw new Error(`no weight ${key}`);
      return weights[key];
    }));
    results[layer.name] = cell.call([x, h, c], {training: false});
  }
  cfg.output_layers.forEach((r, i) => {
    writeNpy(path.join(dir, 'ref', `out_${i}.npy`), results[r[0]][r[2]]);
  });
  const version = require('@tensorflow/tfjs/package.json').version;
  process.stdout.write(JSON.stringify({
    generator: `@tensorflow/tfjs ${version} ${tf.getBackend()} backend, node ${process.version}`,
    load_error: loadError, config_roundtrip: roundtrip}) + '\n');
}
main().catch(e => { console.error(e); process.exit(1); });
