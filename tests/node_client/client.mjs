// Drives the original browser client's createNavaiBackendClient against a base URL and
// prints what it returned (or threw) as JSON, for tests/node_client/test_original_client.py.
import { createNavaiBackendClient } from "@navai/voice-frontend";

const baseUrl = process.argv[2];
const client = createNavaiBackendClient({ apiBaseUrl: baseUrl });

async function attempt(run) {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

const out = {
  secret: await attempt(() =>
    client.createClientSecret({ model: "gpt-realtime", voice: "marin", language: "Spanish" }),
  ),
  secretDefaults: await attempt(() => client.createClientSecret()),
  list: await attempt(() => client.listFunctions()),
  add: await attempt(() => client.executeFunction({ functionName: "add", payload: { a: 2, b: 3 } })),
  addArgs: await attempt(() => client.executeFunction({ functionName: "add", payload: { args: [4, 5] } })),
  explode: await attempt(() => client.executeFunction({ functionName: "explode", payload: null })),
  refuse: await attempt(() => client.executeFunction({ functionName: "refuse", payload: { order_id: "B-7" } })),
  unknown: await attempt(() => client.executeFunction({ functionName: "nope", payload: {} })),
  speech: await attempt(() => client.synthesizeSpeech({ text: "Hola, ¿qué tal?" })),
  speechVoice: await attempt(() =>
    client.synthesizeSpeech({
      text: "Hi",
      voiceId: "voice-b",
      outputFormat: "pcm_16000",
      voiceSettings: { stability: 0.5, useSpeakerBoost: true },
    }),
  ),
  speechBad: await attempt(() => client.synthesizeSpeech({ text: 42 })),
};
console.log(JSON.stringify(out));
