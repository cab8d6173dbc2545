//! Where each chat's running room is, and the rule that lets a room stop without losing a
//! message: every message to a room is put in its mailbox with the slots' lock held, and
//! counted; a room may leave its slot only when it has handled as many messages as were
//! counted, under the same lock. After that nothing can reach its mailbox, and the next
//! message for the chat starts a new room.
//!
//! Generic over the actor so that the room (which retires itself) and the registry (which
//! starts rooms) both use it without depending on each other.

use parley_types::ChatId;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};

struct Slot<A: Actor> {
    addr: Addr<A>,
    /// Messages put in this room's mailbox through the slots.
    sent: u64,
}

pub struct RoomSlots<A: Actor> {
    slots: Arc<Mutex<HashMap<ChatId, Slot<A>>>>,
}

impl<A: Actor> Clone for RoomSlots<A> {
    fn clone(&self) -> Self {
        RoomSlots {
            slots: self.slots.clone(),
        }
    }
}

impl<A: Actor> Default for RoomSlots<A> {
    fn default() -> Self {
        RoomSlots {
            slots: Arc::default(),
        }
    }
}

impl<A: Actor> RoomSlots<A> {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChatId, Slot<A>>> {
        // Every critical section leaves the map consistent (one insert, update or remove), so
        // a poisoned lock is still safe to use.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `message` in the mailbox of the chat's room, starting the room with `start` if
    /// none is running, and returns the future of its reply.
    pub fn send<M>(
        &self,
        chat_id: ChatId,
        message: M,
        start: impl FnOnce() -> Addr<A>,
    ) -> actix::dev::Request<A, M>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
    {
        let mut slots = self.lock();
        let slot = running_slot(&mut slots, chat_id, start);
        slot.sent += 1;
        // `send` queues the message now (it only waits when the mailbox is full), so the count
        // and the mailbox agree once the lock is released.
        slot.addr.send(message)
    }

    /// Like `send`, without waiting for an answer, and past the mailbox's bound if need be
    /// (a message must not be lost once counted).
    pub fn tell<M>(&self, chat_id: ChatId, message: M, start: impl FnOnce() -> Addr<A>)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
    {
        let mut slots = self.lock();
        let slot = running_slot(&mut slots, chat_id, start);
        slot.sent += 1;
        slot.addr.do_send(message);
    }

    /// Like `tell`, but only to a room that is running; `false` (nothing sent) if none is.
    pub fn tell_if_running<M>(&self, chat_id: ChatId, message: M) -> bool
    where
        M: Message + Send + 'static,
        M::Result: Send,
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
    {
        let mut slots = self.lock();
        match slots.get_mut(&chat_id) {
            Some(slot) if slot.addr.connected() => {
                slot.sent += 1;
                slot.addr.do_send(message);
                true
            }
            _ => false,
        }
    }

    /// The chats whose rooms are running.
    pub fn running(&self) -> Vec<ChatId> {
        self.lock()
            .iter()
            .filter(|(_, slot)| slot.addr.connected())
            .map(|(&chat_id, _)| chat_id)
            .collect()
    }

    /// Puts a room that was started elsewhere (from a chat's creation) in the chat's slot. A
    /// room already there keeps running until it retires, but receives nothing more.
    pub fn install(&self, chat_id: ChatId, addr: Addr<A>) {
        self.lock().insert(chat_id, Slot { addr, sent: 0 });
    }

    /// Puts `start()` in the slot of a room that failed, if the slot still holds that room.
    /// False (and nothing started) when the slot holds another room or none.
    pub fn replace(
        &self,
        chat_id: ChatId,
        failed: &Addr<A>,
        start: impl FnOnce() -> Addr<A>,
    ) -> bool {
        let mut slots = self.lock();
        match slots.get_mut(&chat_id) {
            Some(slot) if slot.addr == *failed => {
                *slot = Slot {
                    addr: start(),
                    sent: 0,
                };
                true
            }
            _ => false,
        }
    }

    /// Removes the room from its slot if it has handled every message sent to it; then it
    /// may stop. False if a message is still on its way (the room must keep running), or if
    /// the slot holds another room (this one receives nothing more and may stop).
    pub fn retire(&self, chat_id: ChatId, addr: &Addr<A>, handled: u64) -> Retire {
        let mut slots = self.lock();
        match slots.get(&chat_id) {
            Some(slot) if slot.addr == *addr => {
                if slot.sent == handled {
                    slots.remove(&chat_id);
                    Retire::Done
                } else {
                    Retire::Busy
                }
            }
            _ => Retire::Done,
        }
    }
}

/// The slot of the chat's running room, starting one with `start` if there is none.
fn running_slot<A: Actor>(
    slots: &mut HashMap<ChatId, Slot<A>>,
    chat_id: ChatId,
    start: impl FnOnce() -> Addr<A>,
) -> &mut Slot<A> {
    match slots.entry(chat_id) {
        Entry::Occupied(mut entry) => {
            if !entry.get().addr.connected() {
                entry.insert(Slot {
                    addr: start(),
                    sent: 0,
                });
            }
            entry.into_mut()
        }
        Entry::Vacant(entry) => entry.insert(Slot {
            addr: start(),
            sent: 0,
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// The room has left its slot (or never held it) and may stop.
    Done,
    /// Messages are on their way to it; it must handle them first.
    Busy,
}
