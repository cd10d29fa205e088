//! Waiting for JavaScript promises (wasm32 only), with or without an executor.
//!
//! A statement from `js/d1plus.js` runs as a [`Driven`] call: JavaScript polls its future
//! by hand (`Engine::start`, `Engine::resume`), and each promise the call waits for (a
//! shard's `readAll` or `batch()`) is handed back to JavaScript, which awaits it and
//! answers. So a statement costs two synchronous crossings into wasm and no Rust executor:
//! no task queue, no closures per await, no promise made for the result. Inside workerd a
//! synchronous call right after an I/O costs about half what an asynchronous one does
//! (BENCHMARKS.md, In a Worker).
//!
//! [`settled`] is the one way the D1 backend waits. Polled inside a driven call (every
//! call from `js/d1plus.js`: statements, batches, split steps), it asks; anywhere else (the
//! workers-rs API, `crate::workers`, whose Worker runs its own executor) it waits as a
//! [`JsFuture`].

use futures::future::LocalBoxFuture;
use futures::task::{waker_ref, ArcWake};
use js_sys::{Array, Promise};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// What a driven call and JavaScript exchange: the promises asked for by the last poll,
/// and the outcomes answered, by slot (one slot per promise the call ever asked for).
#[derive(Default)]
struct Exchange {
    asked: RefCell<Vec<Promise>>,
    slots: RefCell<Vec<Slot>>,
}

/// A promise asked for: its outcome once answered, and who to wake then (a future inside
/// a `FuturesUnordered` is polled again only when woken).
struct Slot {
    outcome: Option<Outcome>,
    waker: Waker,
}

/// A promise's outcome: its value, or what it rejected with.
type Outcome = std::result::Result<JsValue, JsValue>;

impl Exchange {
    /// Asks for `promise`, to wake `waker` when answered: its slot.
    fn ask(&self, promise: Promise, waker: &Waker) -> usize {
        self.asked.borrow_mut().push(promise);
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot {
            outcome: None,
            waker: waker.clone(),
        });
        slots.len() - 1
    }

    /// The slot's outcome, if answered; else `waker` is the one to wake.
    fn take(&self, slot: usize, waker: &Waker) -> Option<Outcome> {
        let mut slots = self.slots.borrow_mut();
        let slot = slots.get_mut(slot)?;
        let outcome = slot.outcome.take();
        if outcome.is_none() && !slot.waker.will_wake(waker) {
            slot.waker = waker.clone();
        }
        outcome
    }
}

thread_local! {
    /// The exchange of the call [`Driven::poll`] is polling (a Worker isolate is one thread).
    static DRIVING: RefCell<Option<Rc<Exchange>>> = const { RefCell::new(None) };
}

/// `promise`'s outcome.
pub fn settled(promise: Promise) -> Settled {
    Settled(State::Unasked(promise))
}

/// The future of [`settled`].
pub struct Settled(State);

enum State {
    /// Not polled yet.
    Unasked(Promise),
    /// Asked of the driving JavaScript: the slot its outcome comes back in.
    Asked(Rc<Exchange>, usize),
    /// Polled outside a driven call.
    Awaited(JsFuture),
    /// Ready was returned.
    Done,
}

impl Future for Settled {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = &mut self.get_mut().0;
        let unasked = match std::mem::replace(this, State::Done) {
            State::Unasked(promise) => Some(promise),
            other => {
                *this = other;
                None
            }
        };
        if let Some(promise) = unasked {
            match DRIVING.with(|d| d.borrow().clone()) {
                Some(exchange) => {
                    let slot = exchange.ask(promise, cx.waker());
                    *this = State::Asked(exchange, slot);
                    return Poll::Pending;
                }
                None => *this = State::Awaited(JsFuture::from(promise)),
            }
        }
        let polled = match this {
            State::Asked(exchange, slot) => exchange
                .take(*slot, cx.waker())
                .map_or(Poll::Pending, Poll::Ready),
            State::Awaited(future) => Pin::new(future).poll(cx),
            State::Unasked(_) | State::Done => {
                Poll::Ready(Err(JsValue::from_str("a settled promise was polled again")))
            }
        };
        if polled.is_ready() {
            *this = State::Done;
        }
        polled
    }
}

/// A call JavaScript polls by hand.
pub struct Driven {
    future: LocalBoxFuture<'static, String>,
    exchange: Rc<Exchange>,
    /// Set when something inside the call wakes it (what was asked for was answered, or
    /// a `FuturesUnordered` yielded and wants to be polled again).
    woken: Arc<Woken>,
    /// The slot of the first promise the last poll asked for.
    answering: usize,
}

/// What a poll of a [`Driven`] call gives.
pub enum Step {
    /// The call's answer.
    Done(String),
    /// The promises it waits for: each must be answered ([`Driven::answer`]) before the
    /// next poll.
    Waiting(Array),
    /// Pending, but waiting for nothing JavaScript could answer (a bug).
    Stalled,
}

impl Driven {
    /// A call of `future`, not polled yet.
    pub fn new(future: LocalBoxFuture<'static, String>) -> Driven {
        Driven {
            future,
            exchange: Rc::default(),
            woken: Arc::default(),
            answering: 0,
        }
    }

    /// Runs the call until it finishes or waits.
    pub fn poll(&mut self) -> Step {
        loop {
            self.woken.0.store(false, Ordering::Relaxed);
            // Set at every poll (a JavaScript exception that unwound through an earlier one
            // skipped its reset, which is then harmless), and put back after it: a binding
            // may call into d1plus again while this call is being polled.
            let outer = DRIVING.with(|d| d.replace(Some(self.exchange.clone())));
            let waker = waker_ref(&self.woken);
            let polled = self.future.as_mut().poll(&mut Context::from_waker(&waker));
            DRIVING.with(|d| *d.borrow_mut() = outer);
            if let Poll::Ready(text) = polled {
                return Step::Done(text);
            }
            let asked = std::mem::take(&mut *self.exchange.asked.borrow_mut());
            if !asked.is_empty() {
                self.answering = self.exchange.slots.borrow().len() - asked.len();
                return Step::Waiting(asked.into_iter().collect());
            }
            if !self.woken.0.load(Ordering::Relaxed) {
                return Step::Stalled;
            }
        }
    }

    /// The outcomes of the promises the last poll asked for, in order: `values[i]` is what
    /// promise `i` resolved to, or rejected with when `i` is in `failed`.
    pub fn answer(&mut self, values: &Array, failed: &[u32]) {
        let mut wake = Vec::new();
        for (i, slot) in self.exchange.slots.borrow_mut()[self.answering..]
            .iter_mut()
            .enumerate()
        {
            let value = values.get(i as u32);
            slot.outcome = Some(if failed.contains(&(i as u32)) {
                Err(value)
            } else {
                Ok(value)
            });
            wake.push(slot.waker.clone());
        }
        // Woken after the borrow ends: a waker may be the call's own.
        wake.into_iter().for_each(Waker::wake);
    }
}

/// The flag a driven call's waker sets.
#[derive(Default)]
struct Woken(AtomicBool);

impl ArcWake for Woken {
    fn wake_by_ref(woken: &Arc<Self>) {
        woken.0.store(true, Ordering::Relaxed);
    }
}
