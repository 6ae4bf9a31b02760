// Runs the fault specs in the order of their numbered file names, so the figures table
// follows the scenarios and the credentials scan (last) sees everything captured before it.
'use strict';
const Sequencer = require('@jest/test-sequencer').default;
const path = require('node:path');

class FaultSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => path.basename(a.path).localeCompare(path.basename(b.path)));
  }
}

module.exports = FaultSequencer;
