// Binding and tokens: loopback needs none; any other address refuses to start without one, and
// with one every API request must carry it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerToken, tokenMatches } from './auth.js';
import { call, startTestService } from './testing.js';

test('off-loopback without a token refuses to start', async () => {
  await assert.rejects(startTestService({ host: '0.0.0.0' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'token-required');
    assert.match(error.message, /refusing to listen on 0\.0\.0\.0 without a token/);
    return true;
  });
});

test('off-loopback with a token: 401 without it or with a wrong one, 200 with it', async () => {
  const service = await startTestService({ host: '0.0.0.0', token: 's3cret-token' });
  try {
    for (const path of ['/api/computations', '/metrics', '/openapi.json', '/events', '/api/computations/c-zzzzzzzzzz']) {
      const none = await call(service.url, 'GET', path);
      assert.equal(none.status, 401, path);
      assert.equal(none.body.code, 'unauthorized');
      const wrong = await call(service.url, 'GET', path, undefined, 's3cret-tokeN');
      assert.equal(wrong.status, 401, path);
    }
    const post = await call(service.url, 'POST', '/api/computations', { guest: 'spin.wasm' });
    assert.equal(post.status, 401, 'no computation is created without the token');
    assert.equal(service.store.computations.list().length, 0);
    assert.equal((await call(service.url, 'GET', '/api/computations', undefined, 's3cret-token')).status, 200);
    assert.equal((await call(service.url, 'GET', '/api/computations/c-zzzzzzzzzz', undefined, 's3cret-token')).status, 404);
    // The dashboard's static files carry no data and load before the page can ask for a token.
    assert.equal((await fetch(`${service.url}/`)).status, 200);
  } finally {
    await service.close();
  }
});

test('tokens compare exactly, whatever their length', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('abc', 'abcd'), false);
  assert.equal(tokenMatches('abc', ''), false);
  assert.equal(tokenMatches('abc', undefined), false);
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
});
