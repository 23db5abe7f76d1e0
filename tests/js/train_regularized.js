// A small model with weight regularizers (L1L2 on Conv2D, BatchNormalization, Dense; a
// shared Dense called twice; a frozen Dense), saved as a TF.js Layers model, then one
// trainOnBatch step (SGD 0.1, mean squared error) and an evaluate on the same batch.
// Usage: node train_regularized.js OUT_DIR   (writes model.json, weights.bin, result.json)
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function seeded(seed) {  // deterministic uniform [-1, 1) values
  let s = seed >>> 0;
  return n => Float32Array.from({length: n}, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2147483648 - 1;
  });
}

async function main() {
  const out = process.argv[2];
  fs.mkdirSync(out, {recursive: true});
  const l1l2 = (l1, l2) => tf.regularizers.l1l2({l1, l2});
  const input = tf.input({shape: [4, 4, 2], name: 'image'});
  let h = tf.layers.conv2d({filters: 3, kernelSize: 2, name: 'conv',
                            kernelRegularizer: l1l2(0.01, 0.02),
                            biasRegularizer: l1l2(0, 0.3)}).apply(input);
  h = tf.layers.batchNormalization({name: 'bn', gammaRegularizer: l1l2(0, 0.05),
                                    betaRegularizer: l1l2(0.04, 0)}).apply(h);
  h = tf.layers.flatten({name: 'flat'}).apply(h);
  h = tf.layers.dense({units: 5, activation: 'tanh', name: 'dense',
                       kernelRegularizer: l1l2(0.003, 0.001)}).apply(h);
  const shared = tf.layers.dense({units: 5, activation: 'tanh', name: 'shared',
                                  kernelRegularizer: l1l2(0, 0.02),
                                  biasRegularizer: l1l2(0.1, 0)});
  h = shared.apply(shared.apply(h));
  const frozen = tf.layers.dense({units: 2, name: 'frozen', kernelRegularizer: l1l2(0.05, 0.05)});
  const output = frozen.apply(h);
  const model = tf.model({inputs: input, outputs: output, name: 'regularized'});
  frozen.trainable = false;

  await model.save(tf.io.withSaveHandler(async artifacts => {
    const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    fs.writeFileSync(path.join(out, 'weights.bin'), Buffer.from(data));
    fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: null, modelTopology: artifacts.modelTopology,
      weightsManifest: [{paths: ['weights.bin'], weights: artifacts.weightSpecs}]}));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));

  const rand = seeded(7);
  const x = tf.tensor(rand(6 * 4 * 4 * 2), [6, 4, 4, 2]);
  const y = tf.tensor(rand(6 * 2), [6, 2]);
  model.compile({optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError'});
  const evalLoss = (await model.evaluate(x, y).data())[0];
  const trainLoss = await model.trainOnBatch(x, y);
  const weights = {};
  for (const w of model.weights) {
    weights[w.originalName] = {shape: w.shape, values: Array.from(await w.read().data())};
  }
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({
    x: {shape: x.shape, values: Array.from(await x.data())},
    y: {shape: y.shape, values: Array.from(await y.data())},
    eval_loss: evalLoss, train_loss: trainLoss, weights_after: weights}));
}

main().catch(err => { console.error(err); process.exit(1); });
