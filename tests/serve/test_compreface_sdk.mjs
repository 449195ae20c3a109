// test_compreface_sdk.mjs: CompreFace's official JavaScript SDK (@exadel/compreface-js-sdk
// 1.0.0, installed by run_node_test.sh) against facerec serve: every call of its recognition,
// verification and detection services, with the answers checked against CompreFace's shapes.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, startServer, faceCrops, Checks } from './node_harness.mjs';

const args = parseArgs(process.argv);
const modules = process.env.NODE_MODULES_DIR;
const { CompreFace } = await import(pathToFileURL(path.join(modules, '@exadel/compreface-js-sdk/index.js')).href);
const t = new Checks();
const server = await startServer(args, 'sdk');
// The SDK sends files whose paths start with "." (else it takes them for URLs or base64).
const work = path.join(server.dir, 'photos');
const crops = faceCrops(args, 1, work);
fs.copyFileSync(path.join(args.models, 'face-api', 'demo', 'sample1.jpg'), path.join(work, 'group.jpg'));
process.chdir(work);
const rel = (p) => './' + path.basename(p);
const [alice, bob, carol] = crops.map(rel);
const group = './group.jpg';

const box = (b) => b && typeof b.probability === 'number' && ['x_min', 'y_min', 'x_max', 'y_max'].every((k) => Number.isInteger(b[k]))
  && b.x_max > b.x_min && b.y_max > b.y_min;
const core = new CompreFace('http://127.0.0.1', server.port);
const admin = core.initFaceRecognitionService(server.adminKey);
const reader = core.initFaceRecognitionService(server.recognizeKey);
const status = (e) => (e && e.response ? e.response.status : String(e));

try {
  // subjects: add, list, rename, delete, deleteAll
  let r = await admin.getSubjects().add('alice');
  t.check(r.subject === 'alice', 'subjects.add: {subject}');
  r = await admin.getSubjects().add('temp');
  r = await admin.getSubjects().list();
  t.check(JSON.stringify(r.subjects) === '["alice","temp"]', `subjects.list: ${JSON.stringify(r)}`);
  r = await admin.getSubjects().rename('temp', 'temp2');
  t.check(r.updated === true, 'subjects.rename: {updated: true}');
  r = await admin.getSubjects().delete('temp2');
  t.check(r.subject === 'temp2', 'subjects.delete: {subject}');

  // face collection: add (file path and base64), list
  r = await admin.getFaceCollection().add(alice, 'alice');
  t.check(r.subject === 'alice' && typeof r.image_id === 'string', `faces.add (path): ${JSON.stringify(r)}`);
  const aliceImage = r.image_id;
  r = await admin.getFaceCollection().add(fs.readFileSync(bob).toString('base64'), 'bob');
  t.check(r.subject === 'bob', 'faces.add (base64)');
  r = await admin.getFaceCollection().add(carol, 'carol');
  const carolImage = r.image_id;
  r = await reader.getFaceCollection().list();
  t.check(r.faces.length === 3 && r.total_elements === 3 && r.faces.some((f) => f.image_id === aliceImage && f.subject === 'alice'),
    `faces.list: ${JSON.stringify(r)}`);

  // recognize with limit, prediction_count, det_prob_threshold, face_plugins, status
  r = await reader.recognize(group, { limit: 0, prediction_count: 2, det_prob_threshold: 0.8 });
  const subjects = r.result.map((f) => f.subjects[0].subject);
  // largest face first, as CompreFace orders them
  t.check(r.result.length === 3 && JSON.stringify(subjects) === '["bob","carol","alice"]', `recognize: subjects ${subjects}`);
  t.check(r.result.every((f) => box(f.box) && f.subjects.length === 2 && f.subjects[0].similarity > 0.9
    && f.subjects[0].similarity <= 1 && f.subjects[1].similarity < f.subjects[0].similarity),
  'recognize: box with probability and x/y min/max; subjects by similarity, 2 each');
  r = await reader.recognize(group, { limit: 1, face_plugins: 'landmarks', status: true });
  t.check(r.result.length === 1 && r.result[0].landmarks.length === 5 && r.result[0].execution_time
    && r.plugins_versions, 'recognize: limit 1, landmarks plugin, status');

  // face collection: verify against one stored face
  r = await reader.getFaceCollection().verify(alice, aliceImage, {});
  t.check(r.result.length === 1 && r.result[0].similarity > 0.95 && box(r.result[0].box), `faces.verify (same face): ${r.result[0].similarity}`);
  r = await reader.getFaceCollection().verify(bob, aliceImage, {});
  t.check(r.result[0].similarity < 0.8, `faces.verify (another face): ${r.result[0].similarity}`);

  // verification service: paths, base64
  r = await core.initFaceVerificationService(server.recognizeKey).verify(alice, group, {});
  const matches = r.result[0].face_matches;
  t.check(box(r.result[0].source_image_face.box) && matches.length === 3 && Math.max(...matches.map((m) => m.similarity)) > 0.95,
    'verification.verify (paths): the source found among the target\'s faces');
  r = await core.initFaceVerificationService(server.recognizeKey).verify(
    fs.readFileSync(alice).toString('base64'), fs.readFileSync(bob).toString('base64'), {});
  t.check(r.result[0].face_matches.length === 1 && r.result[0].face_matches[0].similarity < 0.8, 'verification.verify (base64): different people');

  // detection service
  r = await core.initFaceDetectionService(server.recognizeKey).detect(group, { face_plugins: 'landmarks' });
  t.check(r.result.length === 3 && r.result.every((f) => box(f.box) && f.landmarks.length === 5), 'detection.detect: 3 boxes with landmarks');
  r = await core.initFaceDetectionService(server.recognizeKey).detect(group, { det_prob_threshold: 1.01 }).catch((e) => e);
  t.check(status(r) === 400 && r.response.data.message, 'detection.detect: a det_prob_threshold out of range is 400 {message}');

  // errors: no face, roles, keys
  const blank = path.join(work, 'blank.ppm'); // a grey image: no face
  fs.writeFileSync(blank, Buffer.concat([Buffer.from('P6\n64 64\n255\n'), Buffer.alloc(64 * 64 * 3, 128)]));
  r = await reader.recognize('./blank.ppm', {}).catch((e) => e);
  t.check(status(r) === 400 && r.response.data.code === 28, `recognize without a face: 400, code 28 (${status(r)})`);
  r = await reader.getFaceCollection().add(alice, 'mallory').catch((e) => e);
  t.check(status(r) === 403, 'faces.add with a recognize key: 403');
  r = await core.initFaceRecognitionService('wrong').getSubjects().list().catch((e) => e);
  t.check(status(r) === 401, 'a wrong x-api-key: 401');

  // deletions: one, several, a subject's, all; then subjects deleteAll
  r = await admin.getFaceCollection().delete(carolImage);
  t.check(r.image_id === carolImage && r.subject === 'carol', 'faces.delete: {image_id, subject}');
  r = await admin.getFaceCollection().add(carol, 'carol');
  const again = r.image_id;
  r = await admin.getFaceCollection().delete_multiple_images([again, '999999']);
  t.check(Array.isArray(r) && r.length === 1 && r[0].image_id === again, 'faces.delete_multiple_images: the ones that existed');
  r = await admin.getFaceCollection().delete_all_subject('bob');
  t.check(r.deleted === 1, 'faces.delete_all_subject: {deleted: 1}');
  r = await admin.getFaceCollection().delete_all();
  t.check(r.deleted === 1, 'faces.delete_all: {deleted: 1} (alice\'s)');
  r = await reader.getFaceCollection().list();
  t.check(r.faces.length === 0, 'faces.list: empty');
  r = await admin.getSubjects().deleteAll();
  t.check(r.deleted === 3, `subjects.deleteAll: {deleted: 3} (${JSON.stringify(r)})`);
} catch (e) {
  t.check(false, `unexpected: ${e.stack || e} ${e.response ? JSON.stringify(e.response.data) : ''}`);
} finally {
  await server.stop();
}
t.check(server.log().includes('stopped'), 'a clean stop on SIGTERM');
console.log(`${t.failures} failure(s)`);
process.exit(t.failures ? 1 : 0);
