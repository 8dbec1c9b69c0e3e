//! gendump: writes a deterministic, realistic Genesys Cloud EventBridge dump for gcorr's benchmark
//! and tests: interleaved multi-media conversations (IVR → ACD → agent, abandons, transfers,
//! voice → callback, chat → email, messaging) plus re-deliveries, out-of-order delivery and
//! non-conversation noise, in any framing gcorr reads. Same options and seed ⇒ same bytes.
//! The counts it prints on stderr (`key=value`) are what `bench/bench.py` reads.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, BufWriter, Write};

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use flate2::{Compression, write::GzEncoder};
use jiff::Timestamp;
use serde::ser::{Serialize, SerializeMap, Serializer};

#[derive(Parser)]
#[command(about = "Generate a synthetic Genesys Cloud EventBridge dump on stdout")]
struct Cli {
    /// Records to write, duplicates and noise included.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// Seed of the generator: same options and seed give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of records that re-deliver an earlier event with the same envelope id.
    #[arg(long, default_value_t = 0.05)]
    dup_rate: f64,
    /// Fraction of conversation events delivered out of time order.
    #[arg(long, default_value_t = 0.1)]
    reorder: f64,
    /// How records are laid out in the output.
    #[arg(long, value_enum, default_value_t = Framing::Ndjson)]
    framing: Framing,
    /// Gzip the output.
    #[arg(long)]
    gzip: bool,
    /// Fraction of records that are non-conversation events (audits, presence, routing status).
    #[arg(long, default_value_t = 0.01)]
    noise: f64,
    /// Time of the first conversation (RFC 3339).
    #[arg(long, default_value = "2026-03-02T08:00:00Z")]
    start: Timestamp,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Framing {
    /// One compact value per line.
    Ndjson,
    /// Compact values with no separator, as Kinesis Firehose writes them.
    Concat,
    /// One top-level JSON array.
    Array,
    /// Pretty-printed values separated by newlines.
    Pretty,
}

fn main() {
    if let Err(err) = run(Cli::parse()) {
        let broken_pipe = err
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
        if !broken_pipe {
            eprintln!("gendump: {err:#}");
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    for (name, v) in [
        ("--dup-rate", cli.dup_rate),
        ("--reorder", cli.reorder),
        ("--noise", cli.noise),
    ] {
        if !(0.0..=0.9).contains(&v) {
            bail!("{name} must be between 0 and 0.9, got {v}");
        }
    }
    if cli.dup_rate + cli.noise > 0.9 {
        bail!("--dup-rate plus --noise must leave room for fresh events (at most 0.9)");
    }
    let stdout = io::stdout().lock();
    let sink = if cli.gzip {
        Sink::Gz(Box::new(GzEncoder::new(stdout, Compression::default())))
    } else {
        Sink::Plain(stdout)
    };
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, sink),
        framing: cli.framing,
        buf: Vec::with_capacity(4096),
        records: 0,
        bytes: 0,
    };
    let stats = generate(&cli, &mut out)?;
    out.finish()?;
    eprintln!(
        "gendump: records={} unique_conversation_events={} duplicates={} noise={} conversations={} reordered={} bytes={}",
        out.records,
        stats.fresh,
        stats.duplicates,
        stats.noise,
        stats.conversations,
        stats.reordered,
        out.bytes
    );
    Ok(())
}

#[derive(Default)]
struct Stats {
    fresh: u64,
    duplicates: u64,
    noise: u64,
    conversations: u64,
    reordered: u64,
}

/// Turns the time-ordered stream of conversation events into the delivered record sequence.
fn generate(cli: &Cli, out: &mut Out) -> Result<Stats> {
    const NEAR_DUPS: usize = 50;
    const FAR_DUPS: usize = 4096;
    let mut rng = Rng(cli.seed);
    let mut stream = Stream::new(Rng(rng.next()), cli.start.as_millisecond());
    let mut held: BinaryHeap<Reverse<Keyed<Pending>>> = BinaryHeap::new();
    let mut recent: VecDeque<Envelope> = VecDeque::with_capacity(NEAR_DUPS);
    let mut reservoir: Vec<Envelope> = Vec::with_capacity(FAR_DUPS);
    let mut seen_convs: Vec<bool> = Vec::new();
    let mut stats = Stats::default();
    let mut now = cli.start.as_millisecond();
    let mut seq = 0u64;
    while out.records < cli.events {
        let r = rng.unit();
        if r < cli.dup_rate && !recent.is_empty() {
            // Half near (within ~50 records), half anywhere earlier (reservoir sample).
            let env = if rng.chance(0.5) || reservoir.is_empty() {
                &recent[rng.below(recent.len() as u64) as usize]
            } else {
                &reservoir[rng.below(reservoir.len() as u64) as usize]
            };
            out.record(env)?;
            stats.duplicates += 1;
            continue;
        }
        if r < cli.dup_rate + cli.noise {
            out.record(&noise(&mut rng, &stream.world, now))?;
            stats.noise += 1;
            continue;
        }
        let p = loop {
            if held
                .peek()
                .is_some_and(|Reverse(h)| h.key.0 <= out.records as i64)
            {
                break held.pop().expect("peeked").0.val;
            }
            let p = stream.next();
            if !rng.chance(cli.reorder) {
                break p;
            }
            // Held back: a near swap, or a far move (a late retry thousands of records on).
            let delay = if rng.chance(0.7) {
                rng.range(1, 20)
            } else {
                rng.range(1000, 30000)
            };
            seq += 1;
            held.push(Reverse(Keyed {
                key: (out.records as i64 + delay, seq),
                val: p,
            }));
            stats.reordered += 1;
        };
        now = now.max(p.time);
        out.record(&p.env)?;
        stats.fresh += 1;
        if seen_convs.len() <= p.conv {
            seen_convs.resize(p.conv + 1, false);
        }
        if !std::mem::replace(&mut seen_convs[p.conv], true) {
            stats.conversations += 1;
        }
        if recent.len() == NEAR_DUPS {
            recent.pop_front();
        }
        recent.push_back(p.env.clone());
        if reservoir.len() < FAR_DUPS {
            reservoir.push(p.env);
        } else {
            let slot = rng.below(stats.fresh) as usize;
            if slot < FAR_DUPS {
                reservoir[slot] = p.env;
            }
        }
    }
    // Events still held back were never delivered: not counted anywhere.
    stats.reordered -= held.len() as u64;
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------
// Output

enum Sink<W: Write> {
    Plain(W),
    Gz(Box<GzEncoder<W>>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gz(w) => w.flush(),
        }
    }
}

struct Out<'a> {
    w: BufWriter<Sink<io::StdoutLock<'a>>>,
    framing: Framing,
    /// One record, serialized here first so its size is known.
    buf: Vec<u8>,
    records: u64,
    /// Uncompressed bytes written.
    bytes: u64,
}

impl Out<'_> {
    fn record(&mut self, env: &Envelope) -> io::Result<()> {
        let buf = &mut self.buf;
        buf.clear();
        match self.framing {
            Framing::Ndjson => {
                serde_json::to_writer(&mut *buf, env)?;
                buf.push(b'\n');
            }
            Framing::Concat => serde_json::to_writer(&mut *buf, env)?,
            Framing::Array => {
                buf.extend_from_slice(if self.records == 0 { b"[" } else { b",\n" });
                serde_json::to_writer(&mut *buf, env)?;
            }
            Framing::Pretty => {
                serde_json::to_writer_pretty(&mut *buf, env)?;
                buf.push(b'\n');
            }
        }
        self.w.write_all(buf)?;
        self.bytes += buf.len() as u64;
        self.records += 1;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.framing == Framing::Array {
            let tail: &[u8] = if self.records == 0 { b"[]\n" } else { b"]\n" };
            self.w.write_all(tail)?;
            self.bytes += tail.len() as u64;
        }
        self.w.flush()?;
        match self.w.get_mut() {
            Sink::Gz(gz) => gz.try_finish()?,
            Sink::Plain(w) => w.flush()?,
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The EventBridge envelope, serialized in the field order EventBridge uses.

#[derive(Clone, serde::Serialize)]
struct Envelope {
    version: &'static str,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: &'static str,
    account: &'static str,
    time: String,
    region: &'static str,
    resources: [(); 0],
    detail: Detail,
}

#[derive(Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    topic_name: String,
    version: &'static str,
    event_body: Obj,
    metadata: Metadata,
    timestamp: String,
}

#[derive(Clone, serde::Serialize)]
struct Metadata {
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
}

/// A JSON value; objects keep insertion order so bodies read like real ones.
#[derive(Clone, serde::Serialize)]
#[serde(untagged)]
enum V {
    S(String),
    N(i64),
    L(Vec<V>),
    O(Obj),
}

#[derive(Clone, Default)]
struct Obj(Vec<(&'static str, V)>);

impl Obj {
    fn s(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.0.push((k, V::S(v.into())));
        self
    }
    fn n(mut self, k: &'static str, v: i64) -> Self {
        self.0.push((k, V::N(v)));
        self
    }
    fn v(mut self, k: &'static str, v: V) -> Self {
        self.0.push((k, v));
        self
    }
    fn o(self, k: &'static str, v: Obj) -> Self {
        self.v(k, V::O(v))
    }
}

impl Serialize for Obj {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn strs(xs: &[&str]) -> V {
    V::L(xs.iter().map(|x| V::S(x.to_string())).collect())
}

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn iso_ms(ms: i64) -> String {
    format!("{:.3}", Timestamp::from_millisecond(ms).expect("time in range"))
}

fn iso_s(ms: i64) -> String {
    format!(
        "{:.0}",
        Timestamp::from_second(ms.div_euclid(1000)).expect("time in range")
    )
}

fn envelope(
    rng: &mut Rng,
    w: &World,
    template: &str,
    topic: String,
    body: Obj,
    corr: String,
    t: i64,
) -> Envelope {
    let delivered = t + rng.range(5, 150);
    Envelope {
        version: "0",
        id: rng.uuid(),
        detail_type: template.to_string(),
        source: w.source,
        account: ACCOUNT,
        time: iso_s(delivered),
        region: REGION,
        resources: [],
        detail: Detail {
            topic_name: topic,
            version: "2",
            event_body: body,
            metadata: Metadata { correlation_id: corr },
            timestamp: iso_ms(delivered),
        },
    }
}

/// A non-conversation event: an audit, a presence change or a routing-status change.
fn noise(rng: &mut Rng, w: &World, t: i64) -> Envelope {
    let user = rng.pick(&w.users).clone();
    let (template, topic, body) = match rng.below(10) {
        0..5 => {
            let (entity, service, action) = *rng.pick(&[
                ("OAuthClient", "PeoplePermissions", "Update"),
                ("User", "Directory", "Update"),
                ("Queue", "Routing", "Update"),
                ("Flow", "Architect", "Publish"),
                ("WrapupCode", "Routing", "Create"),
            ]);
            let entity_id = rng.uuid();
            let change = Obj::default()
                .s("property", "description")
                .v("oldValues", strs(&["before"]))
                .v("newValues", strs(&["after"]));
            let body = Obj::default()
                .s("id", rng.uuid())
                .s("userId", &user)
                .s("serviceName", service)
                .s("eventTime", iso_ms(t)) // an ISO string on audit topics, not epoch ms
                .s("action", action)
                .s("entityType", entity)
                .o(
                    "entity",
                    Obj::default()
                        .s("id", &entity_id)
                        .s("name", format!("{entity} {}", rng.below(900))),
                )
                .v("propertyChanges", V::L(vec![V::O(change)]));
            let topic = format!("v2.audits.entitytype.{entity}.entityid.{entity_id}");
            ("v2.audits.entitytype.{id}.entityid.{id}", topic, body)
        }
        5..8 => {
            let presence = *rng.pick(&["Available", "Busy", "Away", "Break", "Meal", "On Queue"]);
            let definition = Obj::default()
                .s("id", rng.pick(&w.presences))
                .s("systemPresence", presence);
            let body = Obj::default()
                .s("source", "PURECLOUD")
                .o("presenceDefinition", definition)
                .s("message", "")
                .s("modifiedDate", iso_ms(t));
            (
                "v2.users.{id}.presence",
                format!("v2.users.{user}.presence"),
                body,
            )
        }
        _ => {
            let status = *rng.pick(&[
                "IDLE",
                "INTERACTING",
                "NOT_RESPONDING",
                "OFF_QUEUE",
                "COMMUNICATING",
            ]);
            let body = Obj::default().o(
                "routingStatus",
                Obj::default().s("status", status).s("startTime", iso_ms(t)),
            );
            (
                "v2.users.{id}.routingStatus",
                format!("v2.users.{user}.routingStatus"),
                body,
            )
        }
    };
    let corr = rng.uuid();
    envelope(rng, w, template, topic, body, corr, t)
}

// ---------------------------------------------------------------------------------------------
// The time-ordered stream of conversation events, conversations starting every ~0.5 s.

struct Pending {
    conv: usize,
    time: i64,
    env: Envelope,
}

/// A heap entry ordered by its key only.
struct Keyed<T> {
    key: (i64, u64),
    val: T,
}

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<T> Eq for Keyed<T> {}
impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Keyed<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key.cmp(&o.key)
    }
}

struct Stream {
    rng: Rng,
    world: World,
    next_start: i64,
    convs: usize,
    seq: u64,
    heap: BinaryHeap<Reverse<Keyed<Pending>>>,
}

impl Stream {
    fn new(mut rng: Rng, start: i64) -> Self {
        let world = World::new(&mut rng);
        Stream {
            rng,
            world,
            next_start: start,
            convs: 0,
            seq: 0,
            heap: BinaryHeap::new(),
        }
    }

    fn next(&mut self) -> Pending {
        // Every event of a conversation starting later is later than `next_start`.
        while self
            .heap
            .peek()
            .is_none_or(|Reverse(k)| k.key.0 >= self.next_start)
        {
            self.spawn();
        }
        self.heap.pop().expect("spawned").0.val
    }

    fn spawn(&mut self) {
        let mut c = Conv::new(Rng(self.rng.next()), &self.world, self.next_start);
        match c.rng.below(100) {
            0..40 => c.voice(),
            40..50 => c.voice_callback(),
            50..65 => c.chat_then_email(),
            65..90 => c.messaging(),
            _ => c.email(),
        }
        for (time, env) in c.out {
            self.seq += 1;
            let val = Pending {
                conv: self.convs,
                time,
                env,
            };
            self.heap.push(Reverse(Keyed {
                key: (time, self.seq),
                val,
            }));
        }
        self.convs += 1;
        self.next_start += self.rng.range(0, 1000);
    }
}

/// The fixed directory of one organisation: queues, agents, flows, ...
struct World {
    source: &'static str,
    queues: Vec<String>,
    users: Vec<String>,
    flows: Vec<String>,
    divisions: Vec<String>,
    wrapups: Vec<String>,
    skills: Vec<String>,
    presences: Vec<String>,
}

impl World {
    fn new(rng: &mut Rng) -> Self {
        let mut ids = |n: usize| (0..n).map(|_| rng.uuid()).collect::<Vec<_>>();
        let source = format!("aws.partner/genesys.com/cloud/{}/gcorr-bench", ids(1)[0]);
        World {
            source: Box::leak(source.into_boxed_str()),
            queues: ids(30),
            users: ids(400),
            flows: ids(6),
            divisions: ids(3),
            wrapups: ids(25),
            skills: ids(12),
            presences: ids(6),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversation scenarios

/// One participant's communication: the fields every event about it repeats.
#[derive(Clone)]
struct Leg {
    participant: String,
    session: String,
    media: &'static str,
    provider: &'static str,
    direction: &'static str,
    address: Vec<(&'static str, V)>,
    queue: Option<String>,
    user: Option<String>,
    since: i64,
}

struct Conv<'w> {
    rng: Rng,
    w: &'w World,
    id: String,
    t: i64,
    division: String,
    contact: String,
    org: String,
    correlation: [String; 3],
    name: (&'static str, &'static str),
    out: Vec<(i64, Envelope)>,
}

const SEC: i64 = 1000;
const FIRST: [&str; 12] = [
    "Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon", "Keiko", "Liam",
];
const LAST: [&str; 10] = [
    "Garcia", "Smith", "Muller", "Rossi", "Dubois", "Silva", "Novak", "Tanaka", "Okafor", "Jensen",
];

impl<'w> Conv<'w> {
    fn new(mut rng: Rng, w: &'w World, t: i64) -> Self {
        Conv {
            id: rng.uuid(),
            division: rng.pick(&w.divisions).clone(),
            contact: rng.uuid(),
            org: rng.uuid(),
            correlation: [rng.uuid(), rng.uuid(), rng.uuid()],
            name: (*rng.pick(&FIRST), *rng.pick(&LAST)),
            rng,
            w,
            t,
            out: Vec::new(),
        }
    }

    /// Advances the clock by lo..=hi milliseconds (at least 1, so times within a conversation are unique).
    fn wait(&mut self, lo: i64, hi: i64) {
        self.t += self.rng.range(lo.max(1), hi.max(1));
    }

    fn phone(&mut self) -> String {
        format!("tel:+1{}", self.rng.range(2_000_000_000, 9_999_999_999))
    }

    fn email_address(&mut self) -> String {
        format!(
            "{}.{}{}@example.com",
            self.name.0,
            self.name.1,
            self.rng.below(100)
        )
        .to_lowercase()
    }

    fn leg(
        &mut self,
        media: &'static str,
        provider: &'static str,
        direction: &'static str,
        address: Vec<(&'static str, V)>,
    ) -> Leg {
        Leg {
            participant: self.rng.uuid(),
            session: self.rng.uuid(),
            media,
            provider,
            direction,
            address,
            queue: None,
            user: None,
            since: self.t,
        }
    }

    /// Another participant on the same media as `of` (IVR, ACD, agent).
    fn peer(&mut self, of: &Leg) -> Leg {
        Leg {
            participant: self.rng.uuid(),
            session: self.rng.uuid(),
            since: self.t,
            ..of.clone()
        }
    }

    fn emit(&mut self, kind: &str, leg: &Leg, extra: Obj) {
        let mut b = Obj::default()
            .n("eventTime", self.t)
            .s("conversationId", &self.id)
            .s("participantId", &leg.participant)
            .s("sessionId", &leg.session)
            .s("mediaType", leg.media)
            .s("provider", leg.provider)
            .s("direction", leg.direction);
        b.0.extend(leg.address.iter().cloned());
        if let Some(q) = &leg.queue {
            b = b.s("queueId", q);
        }
        if let Some(u) = &leg.user {
            b = b.s("userId", u);
        }
        b = b
            .s("divisionId", &self.division)
            .v("conversationExternalContactIds", strs(&[&self.contact]));
        if kind.starts_with("customer.") {
            b = b.v("conversationExternalOrganizationIds", strs(&[&self.org]));
        }
        b.0.extend(extra.0);
        self.push(kind, b);
    }

    fn push(&mut self, kind: &str, body: Obj) {
        let template = format!("v2.detail.events.conversation.{{id}}.{kind}");
        let topic = format!("v2.detail.events.conversation.{}.{kind}", self.id);
        let corr = self.rng.pick(&self.correlation).clone();
        let env = envelope(&mut self.rng, self.w, &template, topic, body, corr, self.t);
        self.out.push((self.t, env));
    }

    fn customer_start(&mut self, cust: &Leg) {
        let mut extra = Obj::default()
            .s("externalContactId", &self.contact)
            .s("externalOrganizationId", &self.org);
        if matches!(cust.media, "CHAT" | "MESSAGE") {
            let r = &mut self.rng;
            let action_map = Obj::default().s("id", r.uuid()).n("version", 3);
            let journey = Obj::default()
                .o("customer", Obj::default().s("id", r.uuid()).s("idType", "cookie"))
                .o(
                    "customerSession",
                    Obj::default().s("id", r.uuid()).s("type", "web"),
                )
                .o(
                    "triggeringAction",
                    Obj::default().s("id", r.uuid()).o("actionMap", action_map),
                );
            extra = extra.o("journeyContext", journey);
        }
        self.emit("customer.start", cust, extra);
    }

    fn customer_end(&mut self, cust: &Leg, disconnect: &str) {
        let extra = Obj::default()
            .s("disconnectType", disconnect)
            .n("interactingDurationMs", self.t - cust.since);
        self.emit("customer.end", cust, extra);
    }

    /// The attributes a flow sets: no mediaType, no sessionId, the communications listed instead.
    fn attributes(&mut self, cust: &Leg) {
        let r = &mut self.rng;
        let attrs = Obj::default()
            .s("ivr.Language", *r.pick(&["en-US", "es-US", "fr-CA", "de-DE"]))
            .s(
                "ivr.Intent",
                *r.pick(&["billing", "technical_support", "sales", "cancel", "order_status"]),
            )
            .s("ivr.AuthStatus", *r.pick(&["VERIFIED", "UNVERIFIED", "PARTIAL"]))
            .s(
                "customer.AccountNumber",
                format!("AC-{:08}", r.below(100_000_000)),
            )
            .s("customer.Segment", *r.pick(&["gold", "silver", "standard"]))
            .s("crm.CaseId", format!("CS-{:09}", r.below(1_000_000_000)))
            .s(
                "crm.LastContactReason",
                *r.pick(&["invoice question", "password reset", "delivery delay", "upgrade"]),
            )
            .s("scriptId", r.uuid());
        let comms = V::L(vec![V::O(
            Obj::default().s("id", &cust.session).s("mediaType", cust.media),
        )]);
        let body = Obj::default()
            .n("eventTime", self.t)
            .s("conversationId", &self.id)
            .s("participantId", &cust.participant)
            .o("attributes", attrs)
            .v("communications", comms)
            .s("divisionId", &self.division);
        self.push("attributes", body);
    }

    /// The inbound flow: true if it hands the customer to a queue, false if the customer left.
    fn ivr(&mut self, cust: &Leg, flow_type: &str, hangup: f64) -> bool {
        let mut ivr = self.peer(cust);
        ivr.address.clear();
        let flow_id = self.rng.pick(&self.w.flows).clone();
        let version = format!("{}.0", self.rng.range(1, 40));
        let flow = |o: Obj| {
            o.s("flowType", flow_type)
                .s("flowId", &flow_id)
                .s("flowVersion", &version)
        };
        self.wait(20, 400);
        self.emit("flow.start", &ivr, flow(Obj::default()));
        self.wait(5 * SEC, 60 * SEC);
        self.attributes(cust);
        self.wait(2 * SEC, 30 * SEC);
        if self.rng.chance(hangup) {
            let end = flow(Obj::default())
                .s("disconnectType", "ENDPOINT")
                .s("exitReason", "DISCONNECT");
            self.emit("flow.end", &ivr, end);
            return false;
        }
        let end = flow(Obj::default())
            .s("disconnectType", "TRANSFER")
            .s("exitReason", "TRANSFER")
            .s("transferType", "ACD");
        self.emit("flow.end", &ivr, end);
        true
    }

    fn queue(&mut self, cust: &Leg) -> Leg {
        let mut acd = self.peer(cust);
        acd.address.clear();
        acd.queue = Some(self.rng.pick(&self.w.queues).clone());
        self.wait(10, 300);
        let skills = [
            self.rng.pick(&self.w.skills).as_str(),
            self.rng.pick(&self.w.skills).as_str(),
        ];
        let extra = Obj::default()
            .n("routingPriority", self.rng.range(0, 5) * 1_000_000)
            .v("requestedRoutingSkillIds", strs(&skills));
        self.emit("acd.start", &acd, extra);
        acd
    }

    fn acd_end(&mut self, acd: &Leg, disconnect: &str, outcome: &str, answered: Option<&str>) {
        let mut extra = Obj::default()
            .s("disconnectType", disconnect)
            .s("acdOutcome", outcome);
        if let Some(user) = answered {
            extra = extra.s("answeredUserId", user);
        }
        extra = extra.n("connectedDurationMs", self.t - acd.since);
        self.emit("acd.end", acd, extra);
    }

    /// Waits in queue, then either the customer abandons (None) or an agent answers.
    fn route(&mut self, cust: &Leg, abandon: f64) -> Option<Leg> {
        let acd = self.queue(cust);
        self.wait(3 * SEC, 240 * SEC);
        if self.rng.chance(abandon) {
            self.acd_end(&acd, "PEER", "ABANDON", None);
            self.wait(10, 500);
            self.customer_end(cust, "ENDPOINT");
            return None;
        }
        let user = self.rng.pick(&self.w.users).clone();
        self.acd_end(&acd, "TRANSFER", "ANSWERED", Some(&user));
        let mut agent = self.peer(cust);
        agent.queue = acd.queue;
        agent.user = Some(user);
        self.wait(1, 40);
        self.emit("user.start", &agent, Obj::default());
        Some(agent)
    }

    fn user_end(&mut self, agent: &Leg, disconnect: &str) {
        let held = if self.rng.chance(0.3) {
            self.rng.range(5 * SEC, 120 * SEC)
        } else {
            0
        };
        let extra = Obj::default()
            .s("disconnectType", disconnect)
            .n("interactingDurationMs", self.t - agent.since)
            .n("heldDurationMs", held)
            .n("alertingDurationMs", self.rng.range(2 * SEC, 15 * SEC));
        self.emit("user.end", agent, extra);
    }

    fn wrapup(&mut self, agent: &Leg) {
        let code = self.rng.pick(&self.w.wrapups).clone();
        let notes = *self.rng.pick(&[
            "",
            "resolved on first contact",
            "customer will call back",
            "escalated to tier 2",
        ]);
        let started = self.t;
        self.wait(5 * SEC, 90 * SEC);
        let fields = |o: Obj, t: i64| {
            o.s("wrapupCode", &code)
                .s("wrapupNotes", notes)
                .n("wrapupDurationMs", t - started)
        };
        let acw = fields(Obj::default(), self.t);
        self.emit("acw", agent, acw);
        self.wait(20, 1000);
        let wrapup = fields(Obj::default(), self.t);
        self.emit("wrapup", agent, wrapup);
    }

    /// The agent handles the customer, maybe transferring once or twice, then both hang up and wrap up.
    fn serve(&mut self, cust: &Leg, mut agent: Leg, talk: (i64, i64), mut transfer: f64) -> Leg {
        loop {
            self.wait(talk.0 * SEC, talk.1 * SEC);
            if !self.rng.chance(transfer) {
                break;
            }
            let how = *self
                .rng
                .pick(&["TRANSFER", "CONSULT_TRANSFER", "FORWARD_TRANSFER"]);
            self.user_end(&agent, how);
            let next = self.route(cust, 0.0).expect("no abandon on transfer");
            self.wrapup(&agent);
            agent = next;
            transfer /= 3.0;
        }
        if self.rng.chance(0.6) {
            self.customer_end(cust, "ENDPOINT");
            self.wait(1, 50);
            self.user_end(&agent, "PEER");
        } else {
            self.user_end(&agent, "CLIENT");
            self.wait(1, 50);
            self.customer_end(cust, "PEER");
        }
        self.wrapup(&agent);
        agent
    }

    fn voice_leg(&mut self) -> Leg {
        let ani = self.phone();
        let dnis = format!("tel:+1800555{:04}", self.rng.below(20));
        self.leg(
            "VOICE",
            "Edge",
            "INBOUND",
            vec![("ani", V::S(ani)), ("dnis", V::S(dnis))],
        )
    }

    fn voice(&mut self) {
        let cust = self.voice_leg();
        self.customer_start(&cust);
        if !self.ivr(&cust, "INBOUNDCALL", 0.08) {
            self.wait(100, 3 * SEC);
            self.customer_end(&cust, "ENDPOINT");
            return;
        }
        if let Some(agent) = self.route(&cust, 0.15) {
            self.serve(&cust, agent, (60, 900), 0.12);
        }
    }

    /// The caller leaves the queue for a callback: a CALLBACK session in the same conversation.
    fn voice_callback(&mut self) {
        let cust = self.voice_leg();
        self.customer_start(&cust);
        self.ivr(&cust, "INBOUNDCALL", 0.0);
        let acd = self.queue(&cust);
        self.wait(30 * SEC, 300 * SEC);
        self.acd_end(&acd, "TRANSFER", "FLOWOUT", None);
        self.wait(5 * SEC, 20 * SEC);
        self.customer_end(&cust, "ENDPOINT");
        let number = cust.address[0].1.clone();
        let user_name = format!("{} {}", self.name.0, self.name.1);
        self.wait(100, 2 * SEC);
        let scheduled = self.t + self.rng.range(0, 600) * SEC;
        let address = vec![
            ("callbackUserName", V::S(user_name)),
            ("callbackNumbers", V::L(vec![number])),
            ("callbackScheduledTime", V::N(scheduled)),
        ];
        let callback = Leg {
            session: self.rng.uuid(),
            since: self.t,
            media: "CALLBACK",
            provider: "PureCloud Callback",
            direction: "OUTBOUND",
            address,
            ..cust
        };
        self.customer_start(&callback);
        self.t = self.t.max(scheduled);
        if let Some(agent) = self.route(&callback, 0.03) {
            self.serve(&callback, agent, (60, 600), 0.05);
        }
    }

    /// A web chat, often followed by an email the agent sends in the same conversation.
    fn chat_then_email(&mut self) {
        let cust = self.leg(
            "CHAT",
            "PureCloud Webchat v2",
            "INBOUND",
            vec![("addressFrom", V::S(format!("{} {}", self.name.0, self.name.1)))],
        );
        self.customer_start(&cust);
        if !self.ivr(&cust, "INBOUNDCHAT", 0.05) {
            self.customer_end(&cust, "ENDPOINT");
            return;
        }
        let Some(agent) = self.route(&cust, 0.1) else {
            return;
        };
        let agent = self.serve(&cust, agent, (120, 1200), 0.08);
        if !self.rng.chance(0.6) {
            return;
        }
        self.wait(60 * SEC, 1200 * SEC);
        let to = self.email_address();
        let address = vec![
            ("addressFrom", V::S("support@example-corp.com".into())),
            ("addressTo", V::S(to)),
            ("subject", V::S(format!("Re: your chat {}", &self.id[..8]))),
        ];
        let email = Leg {
            session: self.rng.uuid(),
            since: self.t,
            media: "EMAIL",
            provider: "PureCloud Email",
            direction: "OUTBOUND",
            address,
            ..cust
        };
        self.customer_start(&email);
        let writer = Leg {
            session: self.rng.uuid(),
            since: self.t,
            media: "EMAIL",
            provider: "PureCloud Email",
            direction: "OUTBOUND",
            address: email.address.clone(),
            ..agent
        };
        self.wait(1, 40);
        self.emit("user.start", &writer, Obj::default());
        self.wait(60 * SEC, 600 * SEC);
        self.user_end(&writer, "CLIENT");
        self.wait(1, 50);
        self.customer_end(&email, "SYSTEM");
        self.wrapup(&writer);
    }

    fn messaging(&mut self) {
        let kind = *self.rng.pick(&["WHATSAPP", "WHATSAPP", "SMS", "WEBMESSAGING"]);
        let from = if kind == "WEBMESSAGING" {
            self.rng.uuid()
        } else {
            self.phone()
        };
        let to = format!("tel:+1800555{:04}", self.rng.below(20));
        let address = vec![
            ("addressFrom", V::S(from)),
            ("addressTo", V::S(to)),
            ("messageType", V::S(kind.into())),
        ];
        let cust = self.leg("MESSAGE", "PureCloud Messaging", "INBOUND", address);
        self.customer_start(&cust);
        if !self.ivr(&cust, "INBOUNDSHORTMESSAGE", 0.05) {
            self.customer_end(&cust, "TIMEOUT");
            return;
        }
        if let Some(agent) = self.route(&cust, 0.08) {
            self.serve(&cust, agent, (120, 1800), 0.1);
        }
    }

    fn email(&mut self) {
        let from = self.email_address();
        let subject = *self.rng.pick(&[
            "Invoice question",
            "Order not delivered",
            "Change my plan",
            "Complaint",
        ]);
        let address = vec![
            ("addressFrom", V::S(from)),
            ("addressTo", V::S("support@example-corp.com".into())),
            ("subject", V::S(subject.into())),
        ];
        let cust = self.leg("EMAIL", "PureCloud Email", "INBOUND", address);
        self.customer_start(&cust);
        self.ivr(&cust, "INBOUNDEMAIL", 0.0);
        if let Some(agent) = self.route(&cust, 0.0) {
            self.serve(&cust, agent, (60, 600), 0.05);
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// splitmix64: small, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// A random (version 4) UUID, hyphenated, lower case.
    fn uuid(&mut self) -> String {
        let mut v = (u128::from(self.next()) << 64) | u128::from(self.next());
        v = (v & !(0xF << 76)) | (0x4 << 76); // version 4
        v = (v & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
        let mut s = String::with_capacity(36);
        for i in 0..32 {
            if matches!(i, 8 | 12 | 16 | 20) {
                s.push('-');
            }
            s.push(char::from(
                b"0123456789abcdef"[(v >> (124 - 4 * i)) as usize & 0xF],
            ));
        }
        s
    }
}
