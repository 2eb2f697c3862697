// An independent Hugging Face Inference API client: the npm package @huggingface/inference,
// run by serve's TestHFInferenceJSClient against a server the test started.
//
// Usage: node hf_inference_client.cjs NPM_PREFIX ENDPOINT_URL IMAGE
//
// NPM_PREFIX is where `npm install --prefix NPM_PREFIX @huggingface/inference` put it. Prints
// one JSON object with what the client returned.
const { createRequire } = require("node:module");
const fs = require("node:fs");
const path = require("node:path");

const [prefix, url, image] = process.argv.slice(2);
const { InferenceClient } = createRequire(path.join(path.resolve(prefix), "noop.js"))("@huggingface/inference");

(async () => {
	// The token is sent as Authorization: Bearer, as by every HF client; the server ignores it.
	const client = new InferenceClient("hf_test_secret_token").endpoint(url);
	const data = fs.readFileSync(image);
	const out = {};
	// A Blob without a type: the request has no Content-Type.
	out.untyped = await client.imageClassification({ data: new Blob([data]) });
	// The current input name, with a type.
	out.typed = await client.imageClassification({ inputs: new Blob([data], { type: "image/jpeg" }) });
	try {
		await client.imageClassification({ data: new Blob([Buffer.from("not an image")]) });
		out.error = null;
	} catch (e) {
		out.error = { name: e.name, message: String(e.message) };
	}
	console.log(JSON.stringify(out));
})().catch((e) => {
	console.error(e);
	process.exit(1);
});
