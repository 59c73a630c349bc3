// Runs before every test file: the local Step Functions interpreter needs Promise.withResolvers (Node 22+),
// and the temporary directories the file's tests made are removed after its last test.
import { afterAll } from 'vitest';
import '../../lib/local/polyfills.ts';
import { removeTempDirs } from './temp.ts';

afterAll(removeTempDirs);
