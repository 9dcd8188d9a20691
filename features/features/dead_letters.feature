Feature: Every give-up surfaced as an exception
  A delivery that fails every try ends in one of the stack's dead-letter queues: the
  command queue's after its `maxReceiveCount`, EventBridge's for rule and schedule
  targets, each asynchronous function's own. The `dead-letters` function reads them
  all: each message is archived byte for byte to the reports bucket under
  `dead-letters/<YYYY>/<MM>/<DD>/<queue>/<message id>.json`, then raised once as a
  `DeadLetter` exception for the account it concerns, so the incident opens and the
  routed channels hear of it. `spa handle <file>` replays the archive as is. A message
  that cannot be archived stays in its queue and comes back. The platform is the
  in-memory one here; `engine/local/tests/local/dead_letters.rs` runs the same on the emulator.

  Background:
    Given the assigned account "111111111111" of "jane.doe@example.com"

  Scenario: a command that fails every delivery ends as a DeadLetter exception naming its account, archived for replay
    Given Organizations cannot be reached
    When the operator expires "111111111111" through the command queue
    Then the command fails all 5 receives and moves to "SpaTest-commands-dlq"
    When the dead-letters function receives the dead-letter queue
    Then the message is archived byte for byte under "dead-letters/2026/11/21/SpaTest-commands-dlq/"
    And a DeadLetter exception is raised for "111111111111" naming "command `expire`" and the archive
    And the dead-letter queue keeps nothing
    Given Organizations is back
    Then the exceptions function opens an incident for "111111111111" titled "DeadLetter"
    When the operator replays the archived message with spa handle
    Then "111111111111" is expired as the operator asked

  Scenario: a dead letter received twice raises once
    Given Organizations cannot be reached
    When the operator expires "111111111111" through the command queue
    Then the command fails all 5 receives and moves to "SpaTest-commands-dlq"
    When the dead-letters function receives the dead-letter queue twice
    Then 1 DeadLetter exception is raised in all
    And 1 message is archived

  Scenario: a dead letter that cannot be archived stays in its queue and raises nothing yet
    Given Organizations cannot be reached
    When the operator expires "111111111111" through the command queue
    Then the command fails all 5 receives and moves to "SpaTest-commands-dlq"
    Given the reports bucket cannot be written
    When the dead-letters function receives the dead-letter queue
    Then the dead-letter queue keeps the message
    And 0 DeadLetter exceptions are raised in all
    Given the reports bucket is back
    When the dead-letters function receives the dead-letter queue
    Then 1 DeadLetter exception is raised in all
    And the dead-letter queue keeps nothing
