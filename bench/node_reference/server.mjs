// The original backend (@navai/voice-backend) under Express, as its README sets it up,
// for `python bench/run.py --node`. The package calls https://api.openai.com directly;
// the benchmark points that URL at its fake upstream by wrapping `fetch`, and changes
// nothing else. Usage: node server.mjs PORT (env: NAVAI_BENCH_UPSTREAM, OPENAI_API_KEY).
import express from "express";
import { registerNavaiExpressRoutes } from "@navai/voice-backend";

const upstream = process.env.NAVAI_BENCH_UPSTREAM;
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) =>
  realFetch(String(url).replace("https://api.openai.com/v1", upstream), init);

const app = express();
app.use(express.json());
registerNavaiExpressRoutes(app);
const port = Number(process.argv[2]);
app.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
