// The original backend (@navai/voice-backend, pinned in package-lock.json) under Express,
// set up as its README says, for tests/http/test_original_backend.py. The package calls
// https://api.openai.com directly: `fetch` is wrapped to send that URL to the test's fake
// OpenAI instead, and nothing else is changed. ElevenLabs is reached through the
// package's own ELEVENLABS_BASE_URL. Usage: node server.mjs PORT
// (env: NAVAI_TEST_OPENAI_URL, OPENAI_API_KEY, NAVAI_FUNCTIONS_BASE_DIR, ...).
import express from "express";
import { registerNavaiExpressRoutes } from "@navai/voice-backend";

const upstream = process.env.NAVAI_TEST_OPENAI_URL;
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init) =>
  realFetch(String(url).replace("https://api.openai.com/v1", upstream), init);

const app = express();
app.use(express.json());
registerNavaiExpressRoutes(app);
const port = Number(process.argv[2]);
app.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
