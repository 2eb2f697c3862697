// Runs ONNX models with ONNX Runtime (npm onnxruntime-node, CPU) as an independent reference
// for resnet-go's ONNX export. The package is found under $RESNET_NPM_PREFIX/node_modules
// (installed with `npm install --prefix "$RESNET_NPM_PREFIX" --onnxruntime-node-install=skip
// onnxruntime-node@1.30.0`).
//
//   node ort_run.mjs MODEL.onnx INPUT.f32 N,C,H,W OUT_PREFIX
//   node ort_run.mjs --jobs JOBS.json     ({"jobs":[{"model","input","shape","out"}, ...]})
//
// INPUT.f32 is raw little-endian float32 in NCHW order, fed as "pixel_values". Each graph
// output NAME is written to OUT_PREFIX.NAME.f32 the same way; stdout gets one JSON line per
// job: {"model", "outputs": {NAME: dims}}.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';

const prefix = process.env.RESNET_NPM_PREFIX || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'resnet-go', 'npm');
const require = createRequire(join(prefix, 'node_modules', 'noop.js'));
const ort = require('onnxruntime-node');

async function run(job) {
  const session = await ort.InferenceSession.create(job.model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  const buf = readFileSync(job.input);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const n = job.shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`${job.input}: ${data.length} floats, shape ${job.shape} needs ${n}`);
  const results = await session.run({ pixel_values: new ort.Tensor('float32', data, job.shape) });
  const outputs = {};
  for (const name of session.outputNames) {
    const t = results[name];
    writeFileSync(`${job.out}.${name}.f32`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    outputs[name] = t.dims;
  }
  console.log(JSON.stringify({ model: job.model, outputs }));
}

const args = process.argv.slice(2);
let jobs;
if (args[0] === '--jobs' && args.length === 2) {
  jobs = JSON.parse(readFileSync(args[1], 'utf8')).jobs;
} else if (args.length === 4) {
  jobs = [{ model: args[0], input: args[1], shape: args[2].split(',').map(Number), out: args[3] }];
} else {
  console.error('usage: node ort_run.mjs MODEL.onnx INPUT.f32 N,C,H,W OUT_PREFIX | --jobs JOBS.json');
  process.exit(2);
}
for (const job of jobs) {
  await run(job);
}
