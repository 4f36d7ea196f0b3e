// mermaid's own flowchart parser, for the mermaid checker (bridge.py runs it under node).
//
// stdin: a JSON list of diagram texts. stdout: {"results": [...]}, one per text: the flowchart as mermaid's
// database holds it, the type of a diagram that is no flowchart, or the error with its position; or
// {"setup": message} when mermaid cannot be loaded. bridge.py passes this file's text to
// `node --input-type=module -e` from the folder mermaid is installed in, because the bare imports of
// evaluated code resolve from the working directory (a script run from its own path would look for
// mermaid beside it, in the Python package).
const write = (value) => process.stdout.write(JSON.stringify(value));
console.log = console.info = console.warn = console.debug = console.error;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const texts = JSON.parse(input);
let mermaid, DOMPurify;
try {
  ({ default: DOMPurify } = await import('dompurify'));
  ({ default: mermaid } = await import('mermaid'));
} catch (error) {
  write({ setup: String(error?.message ?? error) });
  process.exit(0);
}
// The sanitiser needs a browser DOM and only shapes rendered labels; labels are read as written.
if (!DOMPurify.isSupported) {
  DOMPurify.sanitize = (text) => text;
  DOMPurify.addHook = () => {};
}
mermaid.initialize({ startOnLoad: false, logLevel: 'fatal' });
const results = [];
for (const text of texts) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    if (typeof db.getVertices !== 'function') {
      results.push({ type: diagram.type });
      continue;
    }
    results.push({
      type: diagram.type,
      direction: db.getDirection?.() ?? 'TB',
      nodes: [...db.getVertices().values()].map((v) => [v.id, String(v.text ?? v.id), v.type ?? null]),
      edges: db.getEdges().map((e) => [e.start, e.end, String(e.text ?? ''), e.type ?? 'arrow_point']),
      subgraphs: db.getSubGraphs().map((s) => [s.id, String(s.title ?? ''), s.nodes]),
    });
  } catch (error) {
    results.push({ error: String(error?.message ?? error), line: error?.hash?.line ?? null,
                   loc: error?.hash?.loc ?? null });
  }
}
write({ results });
