// Posts a body of the given size with Node's fetch and prints "<status> <problem type slug>", or
// "ERROR <code>" (exit 1) when the request failed (e.g. ECONNRESET). Run by slow_clients_test.
const [url, size] = process.argv.slice(2);
try {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: 'x'.repeat(Number(size)),
  });
  const problem = await response.json();
  console.log(`${response.status} ${String(problem.type).split('/').pop()}`);
} catch (error) {
  console.log(`ERROR ${error.cause?.code ?? error.message}`);
  process.exit(1);
}
