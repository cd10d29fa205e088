// d1plus's JavaScript side of the Worker backend (src/backend/d1.rs imports it through
// wasm-bindgen): shard reads run here, and answers cross into wasm in one byte buffer in
// the format of src/backend/wire.rs, instead of one call per value.
const RAW_OPTIONS = Object.freeze({ columnNames: true });
const encoder = new TextEncoder();

// Runs each read (dbs[i].prepare(texts[i]).bind(...params[i]).raw({ columnNames: true })),
// at most `limit` at once, and resolves to [bytes, errors, elsewhere]: every answer in one
// buffer in the format of d1plus's backend::wire (src/backend/wire.rs), errors[i] what read
// i threw, elsewhere[i] an answer the buffer cannot hold (read value by value).
export async function readAll(dbs, texts, params, limit) {
  const n = dbs.length;
  const answers = new Array(n);
  const failed = new Uint8Array(n);
  const errors = new Array(n);
  const durations = new Float64Array(n);
  const read = async (i) => {
    const started = Date.now();
    try {
      const stmt = dbs[i].prepare(texts[i]);
      const values = params[i];
      answers[i] = await (values.length ? stmt.bind(...values) : stmt).raw(RAW_OPTIONS);
    } catch (e) {
      failed[i] = 1;
      errors[i] = e;
    }
    durations[i] = Date.now() - started;
  };
  if (n === 1) {
    await read(0);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < n) await read(next++);
    };
    const workers = [];
    for (let k = 0; k < Math.min(limit, n); k++) workers.push(worker());
    await Promise.all(workers);
  }
  const elsewhere = new Array(n);
  const bytes = written((w) => {
    for (let i = 0; i < n; i++) {
      if (failed[i]) w.u8(1);
      else if (!w.entry(() => w.answer(answers[i], durations[i]), durations[i])) elsewhere[i] = answers[i];
    }
  });
  return [bytes, errors, elsewhere];
}

// What `fill` writes into the shared writer, copied out. Filled synchronously, so calls
// cannot interleave; a large answer's room is not kept.
function written(fill) {
  const w = WRITER;
  w.pos = 0;
  fill(w);
  const bytes = w.buf.slice(0, w.pos);
  if (w.buf.length > 1 << 20) WRITER = new Writer();
  return bytes;
}

class Writer {
  constructor() {
    this.buf = new Uint8Array(4096);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }
  reserve(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const buf = new Uint8Array(size);
    buf.set(this.buf.subarray(0, this.pos));
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }
  // One entry: 0 and what `write` writes, or, when it returns false (what it wrote is taken
  // back), 2 and `duration` (the answer goes elsewhere). Whether it was written here.
  entry(write, duration) {
    const start = this.pos;
    this.u8(0);
    if (write()) return true;
    this.pos = start;
    this.u8(2);
    this.f64(duration);
    return false;
  }
  u8(x) {
    this.reserve(1);
    this.buf[this.pos++] = x;
  }
  u32(x) {
    this.reserve(4);
    this.view.setUint32(this.pos, x, true);
    this.pos += 4;
  }
  f64(x) {
    this.reserve(8);
    this.view.setFloat64(this.pos, x, true);
    this.pos += 8;
  }
  text(s) {
    const n = s.length;
    this.reserve(4 + 3 * n);
    const at = this.pos + 4;
    if (n <= 32) {
      // Short ASCII text byte by byte (cheaper than a view and a call into the encoder).
      const buf = this.buf;
      let j = 0;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c >= 0x80) break;
        buf[at + j] = c;
      }
      if (j === n) {
        this.view.setUint32(this.pos, n, true);
        this.pos = at + n;
        return;
      }
    }
    const { written } = encoder.encodeInto(s, this.buf.subarray(at));
    this.view.setUint32(this.pos, written, true);
    this.pos = at + written;
  }
  // D1's blobs: arrays of bytes (also a Uint8Array or an ArrayBuffer). False for anything
  // else, and for an array holding anything but integers 0 to 255.
  blob(v) {
    let bytes = v;
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) {
        const b = v[k];
        if (typeof b !== "number" || !(b >= 0 && b <= 255) || Math.floor(b) !== b) return false;
      }
    } else if (v instanceof ArrayBuffer) {
      bytes = new Uint8Array(v);
    } else if (!(v instanceof Uint8Array)) {
      return false;
    }
    this.u8(3);
    this.u32(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return true;
  }
  // A raw({ columnNames: true }) answer; false (part written) when it is not one this
  // format holds: not arrays, or a value that is no number, string, boolean, null,
  // undefined or blob. A name that is not a string reads as "".
  answer(raw, duration) {
    if (!Array.isArray(raw) || !Array.isArray(raw[0])) return false;
    const names = raw[0];
    this.f64(duration);
    this.u32(names.length);
    for (let j = 0; j < names.length; j++) this.text(typeof names[j] === "string" ? names[j] : "");
    this.u32(raw.length - 1);
    for (let i = 1; i < raw.length; i++) {
      const row = raw[i];
      if (!Array.isArray(row)) return false;
      this.u32(row.length);
      for (let j = 0; j < row.length; j++) if (!this.value(row[j])) return false;
    }
    return true;
  }
  // A batch() result, { results: [objects], meta }: its rows read by the first row's keys
  // (the meta goes elsewhere); false (part written) when it is not one this format holds,
  // such as a row that is not an Object (one without a prototype included). A key that is
  // not valid UTF-16 (D1 makes none) is written with U+FFFD, its value read by the key.
  objects(result) {
    if (typeof result !== "object" || result === null) return false;
    const rows = result.results;
    this.f64(0);
    if (!Array.isArray(rows) || rows.length === 0) {
      this.u32(0);
      this.u32(0);
      return true;
    }
    const first = rows[0];
    if (!(first instanceof Object)) return false;
    const names = Object.keys(first);
    this.u32(names.length);
    for (let j = 0; j < names.length; j++) this.text(names[j]);
    this.u32(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!(row instanceof Object)) return false;
      this.u32(names.length);
      for (let j = 0; j < names.length; j++) if (!this.value(row[names[j]])) return false;
    }
    return true;
  }
  // One value; false for one this format does not hold.
  value(v) {
    switch (typeof v) {
      case "number":
        this.u8(1);
        this.f64(v);
        return true;
      case "string":
        this.u8(2);
        this.text(v);
        return true;
      case "boolean":
        this.u8(v ? 5 : 4);
        return true;
      case "undefined":
        this.u8(0);
        return true;
      case "object":
        if (v === null) {
          this.u8(0);
          return true;
        }
        return this.blob(v);
      default:
        return false;
    }
  }
}

// Runs one shard's statements as one batch() on `db` (texts[i] bound to params[i]) and
// resolves to [bytes, metas, results]: batchAsWire's answer (both null when reading the
// results threw, e.g. a getter) and the results, for those the buffer cannot hold. One call
// from wasm for the whole batch, as readAll is for reads; what prepare, bind or batch()
// throws rejects.
export async function batchWire(db, texts, params) {
  const n = texts.length;
  const statements = new Array(n);
  for (let i = 0; i < n; i++) {
    const stmt = db.prepare(texts[i]);
    const values = params[i];
    statements[i] = values.length ? stmt.bind(...values) : stmt;
  }
  const results = await db.batch(statements);
  let wire = null;
  try {
    wire = batchAsWire(results);
  } catch {
    // Read value by value.
  }
  return wire ? [wire[0], wire[1], results] : [null, null, results];
}

// A batch()'s results in the same format (a result it cannot hold: entry 2, read value by
// value), and each result's meta as 7 numbers: changes, last_row_id, rows_read,
// rows_written, changed_db (1 for true), size_after, duration (0 for what is not a number).
export function batchAsWire(results) {
  const n = results.length;
  const metas = new Float64Array(7 * n);
  const num = (x) => (typeof x === "number" ? x : 0);
  const bytes = written((w) => {
    for (let i = 0; i < n; i++) {
      const result = results[i];
      if (!w.entry(() => w.objects(result), 0)) continue;
      const m = result.meta;
      if (typeof m !== "object" || m === null) continue;
      const at = 7 * i;
      metas[at] = num(m.changes);
      metas[at + 1] = num(m.last_row_id);
      metas[at + 2] = num(m.rows_read);
      metas[at + 3] = num(m.rows_written);
      metas[at + 4] = m.changed_db === true ? 1 : 0;
      metas[at + 5] = num(m.size_after);
      metas[at + 6] = num(m.duration);
    }
  });
  return [bytes, metas];
}

let WRITER = new Writer();

// Column names joined with NUL (which no SQLite name holds); a name that is not a string
// reads as "".
export function namesJoined(names) {
  return names.map((n) => (typeof n === "string" ? n : "")).join("\0");
}
