#!/usr/bin/env node
import { run } from '../dist/services/server/vessl-secrets.js';

run(process.argv.slice(2));
