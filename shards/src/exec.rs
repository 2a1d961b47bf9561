//! Small executor helpers for core-local futures.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A boxed core-local future.
pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// Runs `futures` concurrently and returns their outputs in order. Each
/// poll visits the unfinished futures in index order, so the first polls
/// happen in index order (commands take their key locks in pipeline order).
pub fn join_all<F: Future>(futures: Vec<F>) -> JoinAll<F> {
    JoinAll {
        slots: futures
            .into_iter()
            .map(|f| Slot::Running(Box::pin(f)))
            .collect(),
    }
}

enum Slot<F: Future> {
    Running(Pin<Box<F>>),
    Done(Option<F::Output>),
}

/// The future of [`join_all`].
pub struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
}

impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut all_done = true;
        for slot in self.slots.iter_mut() {
            if let Slot::Running(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(out) => *slot = Slot::Done(Some(out)),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if !all_done {
            return Poll::Pending;
        }
        let outputs = self
            .slots
            .iter_mut()
            .filter_map(|s| match s {
                Slot::Done(out) => out.take(),
                Slot::Running(_) => None,
            })
            .collect();
        Poll::Ready(outputs)
    }
}

/// A core-local one-shot event: once set, every waiter (present and
/// future) completes. A dropped waiter takes its waker out, so waiting in
/// a loop never grows the list.
#[derive(Default, Clone)]
pub struct Event {
    inner: std::rc::Rc<EventInner>,
}

#[derive(Default)]
struct EventInner {
    set: std::cell::Cell<bool>,
    next_id: std::cell::Cell<u64>,
    wakers: std::cell::RefCell<Vec<(u64, std::task::Waker)>>,
}

impl Event {
    /// Sets the event and wakes every waiter.
    pub fn set(&self) {
        self.inner.set.set(true);
        let wakers = std::mem::take(&mut *self.inner.wakers.borrow_mut());
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Completes once the event is set.
    pub fn wait(&self) -> EventWait {
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        EventWait {
            inner: self.inner.clone(),
            id,
        }
    }
}

/// The future of [`Event::wait`].
pub struct EventWait {
    inner: std::rc::Rc<EventInner>,
    id: u64,
}

impl Future for EventWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.set.get() {
            return Poll::Ready(());
        }
        let mut wakers = self.inner.wakers.borrow_mut();
        match wakers.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => wakers.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for EventWait {
    fn drop(&mut self) {
        if let Ok(mut wakers) = self.inner.wakers.try_borrow_mut() {
            wakers.retain(|(id, _)| *id != self.id);
        }
    }
}

/// Runs `a` and `b` concurrently; the first to finish wins, the other is
/// dropped.
pub async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    })
    .await
}

/// One of two outcomes.
pub enum Either<A, B> {
    /// The first.
    Left(A),
    /// The second.
    Right(B),
}
