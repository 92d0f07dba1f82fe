//! The clone's side of a Broker master (over Broker's native protocol): what
//! [`BrokerMaster`] decides, carried out. The clone speaks it while a Broker peer (a
//! native link) subscribes to the master topic; the copy, the store events and the
//! handles are the same as with a broker-rs master.
//!
//! Writes count as handled once on the writer channel: Broker's channel delivers them
//! reliably while the master stays reachable, and the master answers none but
//! `put_unique`.

use actix::prelude::*;
use broker_store::messages::{store_events, ToClones, ToMaster};
use broker_store::native::{
    command_to_change, operation_to_command, publisher, BrokerMaster, CloneStep,
};
use broker_wire::native::InternalCommand;
use broker_wire::{Data, Timestamp, Topic};

use super::StoreClone;
use crate::routing::matches;
use crate::status::ErrorCode;
use crate::store::emit_error;
use crate::store::flow::emit;
use crate::store::replica::Request;

impl StoreClone {
    /// Whether a Broker peer (a native link) and whether a broker-rs peer subscribe to
    /// the master topic.
    fn masters_listed(&self) -> (bool, bool) {
        let routes = self.shared.routes();
        let listing = routes
            .peers
            .iter()
            .filter(|peer| matches(&peer.filter, &self.flow.peer_topic));
        listing.fold((false, false), |(broker, ours), peer| {
            let native = peer.link.encoding.name() == "native";
            (broker || native, ours || !native)
        })
    }

    /// Starts speaking Broker's protocol with a Broker master that appeared, or ours with
    /// a broker-rs master. With no master listed, the clone stays as it is: the master
    /// is unreachable, and is likely the same one when it is back.
    pub(super) fn choose_protocol(&mut self, ctx: &mut Context<Self>) {
        let broker = match self.masters_listed() {
            (true, _) => true,
            (false, true) => false,
            (false, false) => return,
        };
        if broker == self.broker.is_some() {
            return;
        }
        self.replica.progress.set_synced(false);
        if broker {
            let mut channels = BrokerMaster::new(self.replica.entity);
            let mut steps = Vec::new();
            channels.start(&mut steps);
            self.broker = Some(channels);
            self.carry_out_broker(steps, ctx);
        } else {
            self.broker = None;
        }
    }

    /// One tick of the channels; attaches again once the master was unreachable.
    pub(super) fn broker_tick(&mut self, ctx: &mut Context<Self>) {
        let listed = self.master_listed();
        let Some(channels) = &mut self.broker else {
            return;
        };
        let mut steps = Vec::new();
        if !listed && channels.attached() {
            channels.reset(&mut steps);
        }
        channels.tick(&mut steps);
        self.carry_out_broker(steps, ctx);
    }

    /// The handles' writes, for the Broker master.
    pub(super) fn broker_writes(&mut self, batch: Vec<Request>, ctx: &mut Context<Self>) {
        let Some(channels) = &mut self.broker else {
            return;
        };
        let mut steps = Vec::new();
        let mut sent = 0;
        for Request { op, answer } in batch {
            self.next_request += 1;
            let command = operation_to_command(op, self.replica.entity, self.next_request);
            match answer {
                Some(answer) => {
                    self.waiting.insert(self.next_request, answer);
                }
                None => sent += 1,
            }
            channels.write(command, &mut steps);
        }
        self.replica.progress.finished(sent);
        self.carry_out_broker(steps, ctx);
    }

    /// Commands from the Broker master (and for other clones).
    pub(super) fn broker_commands(
        &mut self,
        commands: Vec<InternalCommand>,
        ctx: &mut Context<Self>,
    ) {
        let Some(channels) = &mut self.broker else {
            return;
        };
        let mut steps = Vec::new();
        for command in commands {
            channels.receive(command, &mut steps);
        }
        self.carry_out_broker(steps, ctx);
    }

    /// Carries out what the channels decided: the copy changed under one lock, then
    /// messages and events out.
    fn carry_out_broker(&mut self, steps: Vec<CloneStep>, ctx: &mut Context<Self>) {
        if steps.is_empty() {
            return;
        }
        let events_listen = self
            .shared
            .routes()
            .subscriber_wants(&self.flow.events_topic);
        let replica = self.replica.clone();
        let mut store = replica.store();
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut synced = None;
        let now = Timestamp::now();
        for step in steps {
            match step {
                CloneStep::Send(command) => out.push(ToMaster::Broker(command).to_data()),
                CloneStep::Load(state) => {
                    let entries = state
                        .into_iter()
                        .map(|(key, value)| broker_store::Entry {
                            key,
                            value,
                            expiry: None,
                        })
                        .collect();
                    if let Err(error) = store.load_snapshot(entries) {
                        let message = format!(
                            "store {}: loading a snapshot failed: {error}",
                            self.replica.name
                        );
                        emit_error(&self.shared, ErrorCode::BackendFailure, message);
                    }
                    synced = Some(true);
                }
                CloneStep::Apply(command) => {
                    let origin = publisher(&command);
                    let current = command.key().and_then(|key| store.get(key).ok().flatten());
                    let keys = || {
                        store
                            .keys()
                            .map(|k| k.into_iter().collect())
                            .unwrap_or_default()
                    };
                    let Some(change) = command_to_change(command, current, keys) else {
                        continue;
                    };
                    if let Err(error) = store.apply_change(&change) {
                        let message = format!(
                            "store {}: applying a change failed: {error}",
                            self.replica.name
                        );
                        emit_error(&self.shared, ErrorCode::BackendFailure, message);
                    }
                    if events_listen {
                        let origin = origin.unwrap_or(self.replica.entity);
                        events.extend(store_events(&self.replica.name, &change, now, &origin));
                    }
                }
                CloneStep::PutUniqueResult { req_id, inserted } => {
                    if let Some(answer) = self.waiting.remove(&req_id) {
                        // The caller may have timed out and gone.
                        let _ = answer.try_send(inserted);
                    }
                }
                CloneStep::Unsynced => synced = Some(false),
                CloneStep::ChangeLost { seq } => {
                    let message = format!(
                        "store {}: change {seq} of the Broker master was lost (it could not \
                         resend it); loading its contents again",
                        self.replica.name
                    );
                    emit_error(&self.shared, ErrorCode::BrokenClone, message);
                }
            }
        }
        // Visible first, then reported.
        drop(store);
        if let Some(synced) = synced {
            self.replica.progress.set_synced(synced);
            if synced {
                self.replica
                    .stale
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
        }
        emit(self, ctx, out, events, 0);
    }
}

/// The Broker commands among what arrived on the clone topic.
pub(super) fn broker_commands(messages: &[(Topic, Data)]) -> Vec<InternalCommand> {
    messages
        .iter()
        .filter_map(|(_, data)| match ToClones::from_data(data) {
            Ok(ToClones::Broker(command)) => Some(command),
            _ => None,
        })
        .collect()
}
