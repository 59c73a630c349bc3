// Runs before every test file: the local Step Functions interpreter needs Promise.withResolvers (Node 22+).
import '../../lib/local/polyfills.ts';
