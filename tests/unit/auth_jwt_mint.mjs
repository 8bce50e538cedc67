// Signs the JWTs auth_jwt_test.cpp verifies, with node's crypto module only (createHmac, sign), so
// the tokens owe nothing to tether's code. Writes DIR/tokens/<name>.jwt for the keys that
// auth_jwt_fixtures.sh generated in DIR. Times are fixed around NOW (the tests verify "as of NOW"),
// except the live_* tokens, which a running server checks against the real clock.
import { createHmac, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const read = (name) => readFileSync(join(dir, name), 'utf8');
const NOW = 1700000000;   // keep equal to jwt_now in auth_jwt_test.cpp

const secrets = { hs: read('hs.secret'), hs2: read('hs2.secret'), rsa_public_pem: read('rsa.pub') };
const keys = { rsa: read('rsa.key'), rsa2: read('rsa2.key'), ec: read('ec.key'), ec2: read('ec2.key') };

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const part = (value) => b64url(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));

// alg: what the signature really is; key: which secret or private key makes it.
function signature(alg, key, input, dsaEncoding = 'ieee-p1363') {
  switch (alg) {
    case 'HS256': return createHmac('sha256', secrets[key]).update(input).digest();
    case 'RS256': return sign('sha256', Buffer.from(input), keys[key]);                      // PKCS#1 v1.5
    case 'ES256': return sign('sha256', Buffer.from(input), { key: keys[key], dsaEncoding });  // RFC 7518 §3.4: r || s
    case 'none': return Buffer.alloc(0);
  }
  throw new Error(`unknown alg ${alg}`);
}

function mint({ header, payload, alg, key, dsaEncoding }) {
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${b64url(signature(alg, key, input, dsaEncoding))}`;
}

const base = {
  iss: 'https://auth.test', sub: 'alice', aud: 'chat', exp: NOW + 600, nbf: NOW - 60, iat: NOW - 60, jti: 't-1',
  role: 'admin', scope: ['read', 'write'], meta: { plan: 'pro', limits: { rps: 5 } }, name: 'Ada \u00e9\u00e8 \u{1F600}',
};
const without = (name) => { const p = { ...base }; delete p[name]; return p; };
const hs = (payload, header = { alg: 'HS256', typ: 'JWT' }) => ({ header, payload, alg: 'HS256', key: 'hs' });

const tokens = {
  // valid, one per algorithm
  hs256: hs(base),
  rs256: { header: { alg: 'RS256', typ: 'JWT', kid: 'rsa-1' }, payload: base, alg: 'RS256', key: 'rsa' },
  es256: { header: { alg: 'ES256', kid: 'ec-1' }, payload: base, alg: 'ES256', key: 'ec' },
  hs256_with_kid: hs(base, { alg: 'HS256', kid: 'some-kid' }),
  // bad signatures
  hs256_other_secret: { ...hs(base), key: 'hs2' },
  rs256_other_key: { header: { alg: 'RS256', kid: 'rsa-1' }, payload: base, alg: 'RS256', key: 'rsa2' },
  es256_other_key: { header: { alg: 'ES256', kid: 'ec-1' }, payload: base, alg: 'ES256', key: 'ec2' },
  es256_der_signature: { header: { alg: 'ES256', kid: 'ec-1' }, payload: base, alg: 'ES256', key: 'ec', dsaEncoding: 'der' },
  // algorithm confusion: an HMAC keyed with the RSA public key's PEM text, which anyone has
  hs256_keyed_with_rsa_public_key: { header: { alg: 'HS256', typ: 'JWT' }, payload: base, alg: 'HS256', key: 'rsa_public_pem' },
  hs256_keyed_with_rsa_public_key_kid: { header: { alg: 'HS256', kid: 'rsa-1' }, payload: base, alg: 'HS256', key: 'rsa_public_pem' },
  none: { header: { alg: 'none', typ: 'JWT' }, payload: base, alg: 'none' },
  none_capitalized: { header: { alg: 'None' }, payload: base, alg: 'none' },
  rs256_unknown_kid: { header: { alg: 'RS256', kid: 'rsa-9' }, payload: base, alg: 'RS256', key: 'rsa' },
  // time
  expired: hs({ ...base, exp: NOW - 100, nbf: NOW - 1000, iat: NOW - 1000 }),
  exp_now: hs({ ...base, exp: NOW }),
  exp_now_plus_1: hs({ ...base, exp: NOW + 1 }),
  exp_fraction: hs({ ...base, exp: NOW + 0.5 }),   // rounds down to NOW
  nbf_future: hs({ ...base, nbf: NOW + 100 }),
  nbf_fraction: hs({ ...base, nbf: NOW + 0.5 }),   // rounds up to NOW + 1
  // issuer and audience
  other_issuer: hs({ ...base, iss: 'https://evil.test' }),
  issuer_case: hs({ ...base, iss: 'https://AUTH.test' }),
  no_issuer: hs(without('iss')),
  aud_array: hs({ ...base, aud: ['billing', 'chat'] }),
  aud_array_other: hs({ ...base, aud: ['billing', 'search'] }),
  aud_empty_array: hs({ ...base, aud: [] }),
  no_aud: hs(without('aud')),
  // required claims
  no_exp: hs(without('exp')),
  no_sub: hs(without('sub')),
  // malformed JSON, signed: the signature holds, the content does not
  exp_string: hs({ ...base, exp: String(NOW + 600) }),
  aud_number: hs({ ...base, aud: 7 }),
  duplicate_exp: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW - 100},"exp":${NOW + 600}}`),
  duplicate_exp_escaped: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"e\\u0078p":${NOW - 100}}`),
  escaped_exp_expired: hs(`{"aud":"chat","iss":"https://auth.test","e\\u0078p":${NOW - 100}}`),
  duplicate_alg: hs(base, '{"alg":"none","alg":"HS256"}'),
  header_not_json: hs(base, '{"alg":"HS256"'),
  header_trailing: hs(base, '{"alg":"HS256"}{"alg":"none"}'),
  header_no_alg: hs(base, { typ: 'JWT' }),
  header_crit: hs(base, { alg: 'HS256', crit: ['exp'], exp: NOW }),
  payload_array: hs('[1,2]'),
  payload_bad_nested: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"x":[1,,2]}`),
  payload_trailing: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600}}{"x":1}`),
  payload_not_utf8: hs(Buffer.concat([Buffer.from(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"sub":"`),
                                      Buffer.from([0xff, 0xfe]), Buffer.from('"}')])),
  payload_bad_number: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"x":01}`),
  big_numbers: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"id":123456789012345678901234567890,"x":-1e400}`),
  payload_too_deep: hs(`{"aud":"chat","iss":"https://auth.test","exp":${NOW + 600},"d":${'['.repeat(40)}${']'.repeat(40)}}`),
  // size: 12 KiB of claims
  oversized: hs({ ...base, pad: 'x'.repeat(9000) }),
  // for a running server, against the real clock
  live: hs({ ...base, exp: 4102444800, nbf: 1000000000 }),
  live_expired: hs({ ...base, exp: 1000000000, nbf: 900000000 }),
};

for (const [name, spec] of Object.entries(tokens)) writeFileSync(join(dir, 'tokens', `${name}.jwt`), mint(spec));

// Tampered: a valid token's payload swapped for another, its signature kept.
const tampered = (name) => {
  const [h, , s] = readFileSync(join(dir, 'tokens', `${name}.jwt`), 'utf8').split('.');
  return `${h}.${part({ ...base, sub: 'mallory' })}.${s}`;
};
for (const name of ['hs256', 'rs256', 'es256']) writeFileSync(join(dir, 'tokens', `${name}_tampered.jwt`), tampered(name));
