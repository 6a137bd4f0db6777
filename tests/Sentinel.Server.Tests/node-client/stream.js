// node stream.js PROTO_ROOT ADDRESS AFTER_SEQUENCE [RULE_ID...]
// Streams detections (follow=false) with the proto files as published, and prints one JSON line per detection,
// then "status <code>". It shares no code with the agent.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoRoot, address, after, ...ruleIds] = process.argv.slice(2);
const definition = loader.loadSync(path.join(protoRoot, 'sentinel/v1/service.proto'), {
  includeDirs: [protoRoot], longs: String, enums: String, defaults: true, keepCase: false,
});
const sentinel = grpc.loadPackageDefinition(definition).sentinel.v1;
const client = new sentinel.DetectionService(address, grpc.credentials.createInsecure());

const call = client.StreamDetections({ afterSequence: after, ruleIds, follow: false, minSeverity: 'SEVERITY_UNSPECIFIED' });
call.on('data', d => console.log(JSON.stringify({ sequence: d.sequence, ruleId: d.ruleId, severity: d.severity, message: d.message, pid: d.event?.context?.pid })));
call.on('status', s => { console.log(`status ${s.code}`); client.close(); });
call.on('error', () => {});
