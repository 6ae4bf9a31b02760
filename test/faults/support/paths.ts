import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..', '..');
/** Scratch space of one fault run (git-ignored): figures, captured output, certificates. */
export const RUN_DIR = process.env.WARREN_FAULT_RUN_DIR ?? join(ROOT, '.tmp', 'faults');
/** One JSON line per scenario, read by the figures reporter. */
export const FIGURES_FILE = join(RUN_DIR, 'figures.jsonl');
/** Every log line, error and child output of the run, scanned for credentials at the end. */
export const CAPTURED_FILE = join(RUN_DIR, 'captured.log');
/** The suite's own node script (3-node cluster and a standalone node). */
export const CLUSTER_SCRIPT = join(__dirname, 'cluster.sh');
/** Child-process consumers and RPC servers run against the built library. */
export const FAULT_WORKER = join(__dirname, 'fault-worker.js');
