// Reads JSON {name: statement} on stdin and prints JSON {name: [error diagnostics]}.
//
// Uses Neo4j's own Cypher front end (@neo4j-cypher/language-support). Its ESM build has
// extension-less imports that Node rejects, so the CommonJS build is loaded. Parameters are
// declared from the statement itself: values are bound at run time, so an "undeclared parameter"
// is not an error here. Functions are checked against the package's registry of built-ins only
// (the Community image has no APOC). Unknown labels are warnings and are dropped with every
// non-error.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { lintCypherQuery, parseParameters, testData } = require('@neo4j-cypher/language-support');

const ERROR = 1;
const VERSION = 'CYPHER 5';
const BUILT_IN_FUNCTIONS = Object.fromEntries(
  Object.entries(testData.mockSchema.functions[VERSION]).filter(([, fn]) => fn.isBuiltIn),
);

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function schemaFor(statement) {
  const parameters = Object.fromEntries(parseParameters(statement, false).map((name) => [name, null]));
  return { parameters, functions: { [VERSION]: BUILT_IN_FUNCTIONS }, defaultLanguage: VERSION };
}

function errorsOf(statement) {
  return lintCypherQuery(statement, schemaFor(statement), false)
    .filter((diagnostic) => diagnostic.severity === ERROR)
    .map(({ message, range, offsets }) => ({ message, range, offsets }));
}

const statements = JSON.parse(await readStdin());
const report = Object.fromEntries(
  Object.entries(statements).map(([name, statement]) => [name, errorsOf(statement)]),
);
process.stdout.write(JSON.stringify(report));
