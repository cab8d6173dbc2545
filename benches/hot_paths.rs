//! Micro-benchmarks of the two per-event hot paths: serialising an event (done once per event
//! and shared by every session) and the room's fan-out loop (one bounded `try_send` per
//! session).
//!
//!     cargo bench --bench hot_paths

use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley::actors::messages::Outbound;
use parley::domain::{
    ChatEvent, ChatId, EventPayload, Message, MessageId, MessageKind, Reaction, Seq, Timestamp,
    UserId,
};

fn message() -> Message {
    Message {
        id: MessageId(101),
        chat_id: ChatId(2),
        seq: Seq(57),
        author_id: UserId(3),
        kind: MessageKind::Text,
        content: "A message of ordinary length, with some ünïcödé and an emoji 👍 in it.".into(),
        reply_to_id: None,
        client_id: Some("c-123".into()),
        created_at: Timestamp(1_795_698_301_123),
        edited_at: None,
        deleted: false,
        reactions: (0..5)
            .map(|i| Reaction {
                emoji: "👍".into(),
                user_id: UserId(10 + i),
                created_at: Timestamp(1_795_698_302_000 + i),
            })
            .collect(),
        attachments: Vec::new(),
        mentions: Vec::new(),
        thread_root_id: None,
        thread: None,
    }
}

fn serialisation(c: &mut Criterion) {
    let event = ChatEvent {
        chat_id: ChatId(2),
        seq: Seq(57),
        payload: EventPayload::MessageCreated(message()),
    };
    c.bench_function("serialise message.created (5 reactions)", |b| {
        b.iter(|| {
            ByteString::from(
                serde_json::to_string(std::hint::black_box(&event)).unwrap_or_default(),
            )
        })
    });
}

/// A session stand-in that drops what it gets.
struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<Outbound> for Sink {
    type Result = ();

    fn handle(&mut self, _: Outbound, _: &mut Context<Self>) {}
}

fn fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("room fan-out (try_send of one shared frame)");
    group.measurement_time(Duration::from_secs(5));
    let frame = Outbound::one(ByteString::from(
        serde_json::to_string(&message()).unwrap_or_default(),
    ));
    for sessions in [100usize, 1000] {
        group.throughput(Throughput::Elements(sessions as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(sessions),
            &sessions,
            |b, &sessions| {
                let system = actix::System::new();
                let recipients: Vec<Recipient<Outbound>> = system
                    .block_on(async { (0..sessions).map(|_| Sink.start().recipient()).collect() });
                // Only the loop is timed; between rounds the sinks drain their mailboxes.
                b.iter_custom(|rounds| {
                    let mut looping = Duration::ZERO;
                    for _ in 0..rounds {
                        let started = std::time::Instant::now();
                        for recipient in &recipients {
                            let _ = recipient.try_send(frame.clone());
                        }
                        looping += started.elapsed();
                        system.block_on(async {
                            for _ in 0..3 {
                                tokio::task::yield_now().await;
                            }
                        });
                    }
                    looping
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, serialisation, fan_out);
criterion_main!(benches);
