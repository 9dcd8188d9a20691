//! [`forward_platform!`](crate::forward_platform): a platform that wraps another and
//! swaps some of its ports says which, and only which; every other port is the inner
//! platform's.
//!
//! `Platform` has one associated type and one accessor per port, so a wrapper written
//! by hand restates all of them to change one. The macro writes the forwarding: the
//! wrapper names the field holding the inner platform and, for each port it swaps, the
//! port's type and the field that holds it, in the order `Platform` declares them
//! (organization, builds, store, bus, commands, clock, budgets, incidents, costs,
//! cost_source, objects, secrets, webhooks, mail, scans, stops, forwarding).
//!
//! ```text
//! spa_usecases::forward_platform! {
//!     impl<P: Platform> Platform for LocalPlatform<P> {
//!         inner: self.inner as P;
//!         builds: LocalBuilds<ForwardBuilds<P>> = self.builds,
//!         bus: LocalBus<ForwardBus<P>> = self.bus,
//!         commands: LocalCommands = self.commands,
//!     }
//! }
//! ```
//!
//! `self.inner` may be the inner platform or a pointer to it (`Arc<P>`); `P` is the
//! inner platform's type. Call sites do not change: `platform.store().claim(..)` reads
//! the same on the wrapper and on the platform it wraps.

/// Implements `Platform` for a wrapper that swaps some ports of an inner platform and
/// forwards the others (see [the module](crate::ports::forward)).
#[macro_export]
macro_rules! forward_platform {
    (
        impl $(<$($g:ident : $bound:path),+ $(,)?>)? Platform for $ty:ty {
            inner: self.$inner:ident as $inner_ty:ty;
            $(organization: $organization:ty = self.$organization_field:ident,)?
            $(builds: $builds:ty = self.$builds_field:ident,)?
            $(store: $store:ty = self.$store_field:ident,)?
            $(bus: $bus:ty = self.$bus_field:ident,)?
            $(commands: $commands:ty = self.$commands_field:ident,)?
            $(clock: $clock:ty = self.$clock_field:ident,)?
            $(budgets: $budgets:ty = self.$budgets_field:ident,)?
            $(incidents: $incidents:ty = self.$incidents_field:ident,)?
            $(costs: $costs:ty = self.$costs_field:ident,)?
            $(cost_source: $cost_source:ty = self.$cost_source_field:ident,)?
            $(objects: $objects:ty = self.$objects_field:ident,)?
            $(secrets: $secrets:ty = self.$secrets_field:ident,)?
            $(webhooks: $webhooks:ty = self.$webhooks_field:ident,)?
            $(mail: $mail:ty = self.$mail_field:ident,)?
            $(scans: $scans:ty = self.$scans_field:ident,)?
            $(stops: $stops:ty = self.$stops_field:ident,)?
            $(forwarding: $forwarding:ty = self.$forwarding_field:ident,)?
        }
    ) => {
        impl $(<$($g: $bound),+>)? $crate::ports::Platform for $ty {
            type Organization = $crate::__port_type!([$($organization)?] $inner_ty, Organization);
            type Builds = $crate::__port_type!([$($builds)?] $inner_ty, Builds);
            type Store = $crate::__port_type!([$($store)?] $inner_ty, Store);
            type Bus = $crate::__port_type!([$($bus)?] $inner_ty, Bus);
            type Commands = $crate::__port_type!([$($commands)?] $inner_ty, Commands);
            type Clock = $crate::__port_type!([$($clock)?] $inner_ty, Clock);
            type Budgets = $crate::__port_type!([$($budgets)?] $inner_ty, Budgets);
            type Incidents = $crate::__port_type!([$($incidents)?] $inner_ty, Incidents);
            type Costs = $crate::__port_type!([$($costs)?] $inner_ty, Costs);
            type CostSource = $crate::__port_type!([$($cost_source)?] $inner_ty, CostSource);
            type Objects = $crate::__port_type!([$($objects)?] $inner_ty, Objects);
            type Secrets = $crate::__port_type!([$($secrets)?] $inner_ty, Secrets);
            type Webhooks = $crate::__port_type!([$($webhooks)?] $inner_ty, Webhooks);
            type Mail = $crate::__port_type!([$($mail)?] $inner_ty, Mail);
            type Scans = $crate::__port_type!([$($scans)?] $inner_ty, Scans);
            type Stops = $crate::__port_type!([$($stops)?] $inner_ty, Stops);
            type Forwarding = $crate::__port_type!([$($forwarding)?] $inner_ty, Forwarding);

            fn organization(&self) -> &Self::Organization {
                $crate::__port!(self, $inner, organization, [$($organization_field)?])
            }
            fn builds(&self) -> &Self::Builds {
                $crate::__port!(self, $inner, builds, [$($builds_field)?])
            }
            fn store(&self) -> &Self::Store {
                $crate::__port!(self, $inner, store, [$($store_field)?])
            }
            fn bus(&self) -> &Self::Bus {
                $crate::__port!(self, $inner, bus, [$($bus_field)?])
            }
            fn commands(&self) -> &Self::Commands {
                $crate::__port!(self, $inner, commands, [$($commands_field)?])
            }
            fn clock(&self) -> &Self::Clock {
                $crate::__port!(self, $inner, clock, [$($clock_field)?])
            }
            fn budgets(&self) -> &Self::Budgets {
                $crate::__port!(self, $inner, budgets, [$($budgets_field)?])
            }
            fn incidents(&self) -> &Self::Incidents {
                $crate::__port!(self, $inner, incidents, [$($incidents_field)?])
            }
            fn costs(&self) -> &Self::Costs {
                $crate::__port!(self, $inner, costs, [$($costs_field)?])
            }
            fn cost_source(&self) -> &Self::CostSource {
                $crate::__port!(self, $inner, cost_source, [$($cost_source_field)?])
            }
            fn objects(&self) -> &Self::Objects {
                $crate::__port!(self, $inner, objects, [$($objects_field)?])
            }
            fn secrets(&self) -> &Self::Secrets {
                $crate::__port!(self, $inner, secrets, [$($secrets_field)?])
            }
            fn webhooks(&self) -> &Self::Webhooks {
                $crate::__port!(self, $inner, webhooks, [$($webhooks_field)?])
            }
            fn mail(&self) -> &Self::Mail {
                $crate::__port!(self, $inner, mail, [$($mail_field)?])
            }
            fn scans(&self) -> &Self::Scans {
                $crate::__port!(self, $inner, scans, [$($scans_field)?])
            }
            fn stops(&self) -> &Self::Stops {
                $crate::__port!(self, $inner, stops, [$($stops_field)?])
            }
            fn forwarding(&self) -> &Self::Forwarding {
                $crate::__port!(self, $inner, forwarding, [$($forwarding_field)?])
            }
        }
    };
}

/// The type of one port in [`forward_platform!`](crate::forward_platform): the
/// wrapper's own, or the inner platform's.
#[doc(hidden)]
#[macro_export]
macro_rules! __port_type {
    ([$own:ty] $inner:ty, $port:ident) => {
        $own
    };
    ([] $inner:ty, $port:ident) => {
        <$inner as $crate::ports::Platform>::$port
    };
}

/// One port in [`forward_platform!`](crate::forward_platform): the wrapper's field,
/// or the inner platform's accessor.
#[doc(hidden)]
#[macro_export]
macro_rules! __port {
    ($self:ident, $inner:ident, $port:ident, [$own:ident]) => {
        &$self.$own
    };
    ($self:ident, $inner:ident, $port:ident, []) => {
        $self.$inner.$port()
    };
}

#[cfg(test)]
mod tests {
    use crate::ports::memory::{MemoryOrganization, MemoryPlatform, MemoryWebhooks};
    use crate::ports::{Claim, Claims, Platform, Secret, Webhooks};

    /// The memory platform with its own webhooks: one port swapped, one line.
    struct OtherWebhooks {
        inner: MemoryPlatform,
        webhooks: MemoryWebhooks,
    }

    crate::forward_platform! {
        impl Platform for OtherWebhooks {
            inner: self.inner as MemoryPlatform;
            webhooks: MemoryWebhooks = self.webhooks,
        }
    }

    #[tokio::test]
    async fn a_wrapper_swaps_its_ports_and_forwards_the_others() {
        let now = chrono::DateTime::UNIX_EPOCH;
        let platform = OtherWebhooks {
            inner: MemoryPlatform::new(MemoryOrganization::new(), now),
            webhooks: MemoryWebhooks::default(),
        };
        let body = serde_json::json!({"text": "hello"});
        assert!(
            platform
                .webhooks()
                .post_json(&Secret::new("https://x"), &body)
                .await
                .is_ok()
        );
        assert_eq!(platform.webhooks.posted().len(), 1);
        assert!(platform.inner.webhooks.posted().is_empty());
        assert_eq!(
            platform.store().claim("k", now, now, false).await,
            Ok(Claim::New)
        );
        assert!(platform.inner.store.is_claimed("k"));
    }
}
