// Drives a Bluesky server with the official atproto SDK (@atproto/api's AtpAgent) through
// what a bulk unblocker does, and checks each answer: log in with an app password, follow
// the session's didDoc to the PDS, resolve handles, create blocks (createRecord replacing an
// older block of the same subject, applyWrites creates not), page listRecords to the empty
// page, delete one by one and in atomic batches, look profiles up, and refresh the session
// after the access token expired.
//
// It runs the same against the emulator and against the reference PDS, to show the emulator
// meets the SDK as the PDS does (see README.md beside it). Environment:
//   SERVICE            the login URL
//   IDENTIFIER         handle, DID or email of the account
//   PASSWORD           its app password
//   ACCOUNT_PASSWORD   optional: the account password, to create an app password first
//                      (the reference PDS has none until one is made)
//   SUBJECTS           comma-separated handles of two active accounts to block
//   UNKNOWN_HANDLE     a handle no account has (default nobody-here.invalid)
//   ACCESS_TTL_SECS    how long the server's access tokens live (the refresh check waits
//                      this long plus a second; 0 skips it)
// Prints one line per check and exits 1 on the first failure.

import { AtpAgent } from '@atproto/api';

const env = process.env;
const need = (name) => {
  const value = env[name];
  if (!value) {
    console.error(`missing ${name}`);
    process.exit(2);
  }
  return value;
};
const SERVICE = need('SERVICE');
const IDENTIFIER = need('IDENTIFIER');
const SUBJECTS = need('SUBJECTS').split(',').map((s) => s.trim()).filter(Boolean);
const UNKNOWN = env.UNKNOWN_HANDLE || 'nobody-here.invalid';
const TTL = Number(env.ACCESS_TTL_SECS || 0);
const BLOCK = 'app.bsky.graph.block';

let checks = 0;
const ok = (label) => {
  checks += 1;
  console.log(`ok ${checks} - ${label}`);
};
const fail = (label, detail) => {
  console.log(`not ok ${checks + 1} - ${label}`);
  if (detail !== undefined) console.log(`  ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  process.exit(1);
};
const check = (cond, label, detail) => (cond ? ok(label) : fail(label, detail));
const rkeyOf = (uri) => uri.split('/').pop();
/** The XRPC error a call failed with, or null when it succeeded. */
const failure = async (call) => {
  try {
    await call();
    return null;
  } catch (err) {
    return { status: err.status, error: err.error, message: err.message };
  }
};
const now = () => new Date().toISOString();

// An app password, made with the account password when the server has none yet.
let password = env.PASSWORD;
if (env.ACCOUNT_PASSWORD) {
  const setup = new AtpAgent({ service: SERVICE });
  await setup.login({ identifier: IDENTIFIER, password: env.ACCOUNT_PASSWORD });
  const made = await setup.com.atproto.server.createAppPassword({ name: `sdk-${Date.now()}` });
  password = made.data.password;
}
if (!password) need('PASSWORD');

const events = [];
const agent = new AtpAgent({
  service: SERVICE,
  persistSession: (event) => events.push(event),
});

// 1. Logging in with the app password, and the PDS the session names.
const login = await agent.login({ identifier: IDENTIFIER, password });
const did = agent.session?.did;
check(login.success && did?.startsWith('did:'), 'createSession with an app password', login.data);
check(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/.test(password), 'the app password has the xxxx-xxxx-xxxx-xxxx shape');
const pds = agent.pdsUrl?.toString();
check(!!pds, 'the session carries a didDoc naming a PDS', login.data.didDoc);
check(new URL(pds).host !== new URL(SERVICE).host, `the PDS (${pds}) is another host than the login URL`);
const wrong = await failure(() => new AtpAgent({ service: SERVICE }).login({ identifier: IDENTIFIER, password: 'wrong-password' }));
check(
  wrong?.status === 401 && wrong?.error === 'AuthenticationRequired',
  'a wrong password is 401 AuthenticationRequired',
  wrong,
);
const me = await agent.com.atproto.server.getSession();
check(me.data.did === did, 'getSession names the account');

// 2. Handles.
const own = await agent.com.atproto.identity.resolveHandle({ handle: agent.session.handle });
check(own.data.did === did, 'resolveHandle of the own handle');
const subjects = [];
for (const handle of SUBJECTS) {
  const r = await agent.com.atproto.identity.resolveHandle({ handle });
  subjects.push(r.data.did);
}
check(subjects.length >= 2, `resolveHandle of ${SUBJECTS.join(', ')}`);
const unknown = await failure(() => agent.com.atproto.identity.resolveHandle({ handle: UNKNOWN }));
check(
  unknown?.status === 400 && ['InvalidRequest', 'HandleNotFound'].includes(unknown.error)
    && unknown.message === 'Unable to resolve handle',
  'an unknown handle is 400 "Unable to resolve handle"',
  unknown,
);
const badSyntax = await failure(() => agent.com.atproto.identity.resolveHandle({ handle: `@${SUBJECTS[0]}` }));
check(badSyntax?.status === 400, 'a handle with a leading @ is refused (400)', badSyntax);

// 3. Blocks: createRecord replaces older blocks of the subject, applyWrites creates do not.
const [a, b] = subjects;
const block = (subject) => ({ $type: BLOCK, subject, createdAt: now() });
const first = await agent.com.atproto.repo.createRecord({ repo: did, collection: BLOCK, record: block(a) });
const second = await agent.com.atproto.repo.createRecord({ repo: did, collection: BLOCK, record: block(a) });
check(second.data.uri !== first.data.uri && second.data.validationStatus === 'valid', 'createRecord of a block');
const gone = await failure(() => agent.com.atproto.repo.getRecord({ repo: did, collection: BLOCK, rkey: rkeyOf(first.data.uri) }));
check(gone?.status === 400 && gone?.error === 'RecordNotFound', 'the second createRecord of a subject deleted the first', gone);
const batch = await agent.com.atproto.repo.applyWrites({
  repo: did,
  writes: [
    { $type: 'com.atproto.repo.applyWrites#create', collection: BLOCK, value: block(a) },
    { $type: 'com.atproto.repo.applyWrites#create', collection: BLOCK, value: block(b) },
    { $type: 'com.atproto.repo.applyWrites#create', collection: BLOCK, value: block(b) },
  ],
});
const created = [second.data.uri, ...batch.data.results.map((r) => r.uri)];
check(batch.data.results.length === 3 && created.every(Boolean), 'applyWrites creates', batch.data);
const still = await agent.com.atproto.repo.getRecord({ repo: did, collection: BLOCK, rkey: rkeyOf(second.data.uri) });
check(still.data.value.subject === a, 'applyWrites creates leave older blocks of the subject');

// 4. Paging listRecords to the empty page.
const seen = [];
let cursor;
let pages = 0;
for (;;) {
  const page = await agent.com.atproto.repo.listRecords({ repo: did, collection: BLOCK, limit: 2, cursor });
  pages += 1;
  const records = page.data.records;
  if (records.length === 0) {
    check(page.data.cursor === undefined, `the empty page ${pages} has no cursor`);
    break;
  }
  if (page.data.cursor !== rkeyOf(records[records.length - 1].uri)) {
    fail(`page ${pages} has a cursor naming its last record`, page.data);
  }
  seen.push(...records.map((r) => rkeyOf(r.uri)));
  cursor = page.data.cursor;
  if (pages > 1000) fail('paging ends');
}
ok(`every non-empty page of ${pages - 1} has a cursor naming its last record`);
const sorted = [...seen].sort().reverse();
check(JSON.stringify(seen) === JSON.stringify(sorted), 'records come newest first');
check(created.every((uri) => seen.includes(rkeyOf(uri))), 'the created blocks are listed');
check(new Set(seen).size === seen.length, 'no record is listed twice');

// 5. Deleting: one by one (idempotent), and in atomic batches.
const [one, ...rest] = created;
const del = await agent.com.atproto.repo.deleteRecord({ repo: did, collection: BLOCK, rkey: rkeyOf(one) });
check(!!del.data.commit?.rev, 'deleteRecord answers a commit');
const again = await agent.com.atproto.repo.deleteRecord({ repo: did, collection: BLOCK, rkey: rkeyOf(one) });
check(again.success && again.data.commit === undefined, 'deleteRecord of a missing record succeeds without a commit');
const del1 = (uri) => ({ $type: 'com.atproto.repo.applyWrites#delete', collection: BLOCK, rkey: rkeyOf(uri) });
const atomic = await failure(() => agent.com.atproto.repo.applyWrites({ repo: did, writes: [del1(rest[0]), del1(one)] }));
check(
  atomic?.status === 500 && atomic?.error === 'InternalServerError' && atomic?.message === 'Internal Server Error',
  'applyWrites with a missing record fails whole with a bare 500',
  atomic,
);
const kept = await agent.com.atproto.repo.getRecord({ repo: did, collection: BLOCK, rkey: rkeyOf(rest[0]) });
check(kept.success, 'and applies nothing');
const tooMany = await failure(() =>
  agent.com.atproto.repo.applyWrites({ repo: did, writes: Array.from({ length: 201 }, () => del1(rest[0])) }),
);
check(
  tooMany?.status === 400 && tooMany?.message === 'Too many writes. Max: 200',
  'applyWrites takes at most 200 writes',
  tooMany,
);

// 6. Profiles (the AppView; the reference PDS run here has none).
const profiles = await failure(async () => {
  const r = await agent.app.bsky.actor.getProfiles({ actors: [SUBJECTS[0], UNKNOWN] });
  if (r.data.profiles.length !== 1 || r.data.profiles[0].did !== a) throw new Error(JSON.stringify(r.data));
});
check(
  profiles === null
    || (profiles.status === 400 && profiles.message?.startsWith('No service configured for'))
    || (profiles.status === 502 && profiles.error === 'UpstreamFailure'),
  profiles === null
    ? 'getProfiles leaves the unknown actor out'
    : `getProfiles without an AppView: ${profiles.status} ${profiles.error}`,
  profiles,
);

// 7. The session is refreshed after the access token expired, and the call goes through.
if (TTL > 0) {
  const before = agent.session.accessJwt;
  await new Promise((resolve) => setTimeout(resolve, (TTL + 1.5) * 1000));
  const late = await agent.com.atproto.repo.applyWrites({ repo: did, writes: rest.map(del1) });
  check(late.success, 'a write after expiry succeeds once the SDK has refreshed');
  check(agent.session.accessJwt !== before && events.includes('update'), 'the session was refreshed');
  check(new URL(agent.pdsUrl).host === new URL(pds).host, 'the refreshed session still names the PDS');
} else {
  await agent.com.atproto.repo.applyWrites({ repo: did, writes: rest.map(del1) });
  ok('refresh check skipped (ACCESS_TTL_SECS=0)');
}
const left = await agent.com.atproto.repo.listRecords({ repo: did, collection: BLOCK, limit: 100 });
check(
  created.every((uri) => !left.data.records.some((r) => r.uri === uri)),
  'every block the script created is gone',
);
console.log(`1..${checks}`);
