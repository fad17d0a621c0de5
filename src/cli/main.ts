#!/usr/bin/env node
// The shadowvm command's entry: checks the Node it runs on before anything else loads (a native
// module built for another Node can crash the process on import), then runs the command.

import { ensureRuntime } from './runtime.js';

const code = ensureRuntime(process.argv.slice(1));
if (code === undefined) await import('./app.js');
else process.exitCode = code;
