#pragma once
// What a server needs from a backplane (tether/redis/backplane.hpp is one): to be handed each topic that
// opens with it. From then on the backplane orders that topic (hub/sequencer.hpp): it assigns every
// message's epoch and sequence, on every node alike, and feeds the topic's ring.
//
// An interface, so that tether::topic_options can name a backplane without every user of topics compiling
// hiredis (an optional dependency: TETHER_WITH_REDIS).
#include <tether/hub/topic.hpp>

namespace tether {

struct backplane_topic {
    bool conflating = false;   ///< keep the latest value per key (backpressure::conflate topics)
};

class backplane {
public:
    /// Called once per topic, when it opens (under the topic registry's lock). Must make the topic refuse
    /// local publishes at once (hub::topic::set_sequencer) and may do the rest later, on its own thread.
    virtual void attach(hub::topic_handle const& topic, backplane_topic options) = 0;

protected:
    ~backplane() = default;
};

} // namespace tether
