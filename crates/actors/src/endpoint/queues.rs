//! The endpoint's factories of the queues its user holds: subscribers, status
//! subscribers and publishers, each a bounded queue with a flare that the Core attaches
//! to the data path.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use broker_wire::Topic;

use super::Endpoint;
use crate::core::{AddPublisher, AddStatusSubscriber, AddSubscriber};
use crate::error::EndpointError;
use crate::flare::Flare;
use crate::publish_buffer::PublishBuffer;
use crate::publisher::Publisher;
use crate::queue::BoundedQueue;
use crate::subscriber::{Inbox, StatusSubscriber, Subscriber};

impl Endpoint {
    /// A subscriber to `topics` (raw prefixes), its queue holding `queue_size`
    /// messages but at least `Config::subscriber_queue`. Peers know of it on return.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_subscriber(
        &self,
        topics: Vec<Topic>,
        queue_size: usize,
    ) -> Result<Subscriber, EndpointError> {
        let capacity = queue_size.max(self.inner.shared.config.subscriber_queue);
        let flare = new_flare("subscriber")?;
        let queue = Arc::new(BoundedQueue::new(capacity, Some(flare), None));
        let id = self.inner.shared.subscriber_id();
        let _ = self.call(AddSubscriber {
            id,
            topics,
            queue: queue.clone(),
        });
        Ok(Subscriber {
            id,
            inbox: Inbox { queue },
            core: self.inner.core.clone(),
        })
    }

    /// [`Endpoint::try_make_subscriber`] for callers that treat running out of file
    /// descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the subscriber's flare.
    pub fn make_subscriber(&self, topics: Vec<Topic>, queue_size: usize) -> Subscriber {
        self.try_make_subscriber(topics, queue_size)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A status subscriber: errors always, statuses too with `receive_statuses`.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_status_subscriber(
        &self,
        receive_statuses: bool,
    ) -> Result<StatusSubscriber, EndpointError> {
        let queue = Arc::new(BoundedQueue::new(
            self.inner.shared.config.status_queue,
            Some(new_flare("status subscriber")?),
            None,
        ));
        let dropped = Arc::new(AtomicU64::new(0));
        let _ = self.call(AddStatusSubscriber {
            queue: queue.clone(),
            statuses: receive_statuses,
            dropped: dropped.clone(),
        });
        Ok(StatusSubscriber {
            inbox: Inbox { queue },
            dropped,
        })
    }

    /// [`Endpoint::try_make_status_subscriber`] for callers that treat running out of
    /// file descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the subscriber's flare.
    pub fn make_status_subscriber(&self, receive_statuses: bool) -> StatusSubscriber {
        self.try_make_status_subscriber(receive_statuses)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A publisher on `topic` with a buffer of `Config::publisher_buffer` messages.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_publisher(&self, topic: Topic) -> Result<Publisher, EndpointError> {
        let buffer = Arc::new(PublishBuffer::new(
            self.inner.shared.config.publisher_buffer,
            Some(new_flare("publisher")?),
        ));
        let _ = self.call(AddPublisher {
            queue: buffer.clone(),
        });
        Ok(Publisher {
            topic,
            buffer,
            shared: self.inner.shared.clone(),
            sent: AtomicU64::new(0),
            created: Instant::now(),
        })
    }

    /// [`Endpoint::try_make_publisher`] for callers that treat running out of file
    /// descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the publisher's flare.
    pub fn make_publisher(&self, topic: Topic) -> Publisher {
        self.try_make_publisher(topic)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A flare for a new `queue` ("subscriber", ...), or why there is none.
fn new_flare(queue: &'static str) -> Result<Flare, EndpointError> {
    Flare::new().map_err(|source| EndpointError::Descriptor { queue, source })
}
