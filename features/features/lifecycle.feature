Feature: Account lifecycle
  The state of an account lives in its tags in AWS Organizations (`account-state`,
  `account-holder`, `account-build`, ...). For every event spa decides, from the tags,
  the event and the account's settings, what the account becomes and what to do, then
  writes the new tags. An event that does not apply is rejected with a reason, never
  guessed; a duplicate or late event changes nothing.

  Unless a scenario says otherwise: preparation and purge are enabled, a build is tried
  at most 3 times, on-boarding is due 2 hours after it starts and maintenance 4 hours
  after it starts, no budget and no lease are configured.

  Background:
    Given accounts entered their state at "2025-03-01T08:00:00Z"
    And events arrive at "2025-03-01T09:00:00Z"

  Rule: on-boarding: an account that enters management is vended, then prepared

    Scenario Outline: an unmanaged account is on-boarded (<trigger>, preparation <preparation>)
      Given an unmanaged account
      And preparation is <preparation>
      When <trigger>
      Then the account is "<new state>"
      And <build>
      And it emits <events>

      Examples: preparation enabled: a preparation build starts
        | trigger                         | preparation | new state | build                                  | events                      |
        | the account enters a managed OU | enabled     | vended    | a preparation build starts as attempt 1 | AccountVended, BuildStarted |
        | its state is tagged "vended"    | enabled     | vended    | a preparation build starts as attempt 1 | AccountVended, BuildStarted |
        | an operator resets it           | enabled     | vended    | a preparation build starts as attempt 1 | AccountVended, BuildStarted |

      Examples: preparation disabled: the account is ready at once
        | trigger                         | preparation | new state | build           | events                                              |
        | the account enters a managed OU | disabled    | prepared  | no build starts | AccountVended, AccountPrepared, OnboardingCompleted |
        | its state is tagged "vended"    | disabled    | prepared  | no build starts | AccountVended, AccountPrepared, OnboardingCompleted |

    Scenario: on-boarding applies the settings' tags and opens a timed transaction
      Given an unmanaged account
      And its tags are:
        | key          | value |
        | legacy-owner | bob   |
        | team         | none  |
      And the policy sets the tags:
        | key        | value   |
        | team       | sandbox |
        | managed-by | spa     |
      And the policy unsets the tags "legacy-owner"
      When the account enters a managed OU
      Then the account is "vended"
      And its tags include:
        | key              | value                |
        | team             | sandbox              |
        | managed-by       | spa                  |
        | account-state    | vended               |
        | account-since    | 2025-03-01T09:00:00Z |
        | account-attempts | 1                    |
      And it removes the tags "legacy-owner"
      And its onboarding transaction is open since "2025-03-01T09:00:00Z", due at "2025-03-01T11:00:00Z"
      And a preparation build starts as attempt 1

    Scenario: with preparation disabled, a holder known in advance gets the account at once
      Given an unmanaged account
      And its holder is "jane.doe@example.com"
      And preparation is disabled
      And a budget is configured
      When the account enters a managed OU
      Then the account is "assigned"
      And no build starts
      And it ensures a budget
      And it notifies "jane.doe@example.com" of AccountAssigned
      And it emits AccountVended, AccountPrepared, AccountAssigned, OnboardingCompleted

  Rule: a successful preparation makes the account ready, for its holder or for the pool

    Scenario Outline: preparation "b-1" succeeds on a <state> account (<holder>)
      Given an account in state "<state>" waiting for preparation build "b-1" at attempt 1
      And <holder>
      And a budget is configured
      When preparation build "b-1" ends SUCCEEDED
      Then the account is "<new state>"
      And it ensures a budget
      And <notification>
      And its <transaction> transaction completes
      And it emits <events>

      Examples: on-boarding
        | state  | holder                               | new state | notification                                         | transaction | events                                                |
        | vended | it has no holder                     | prepared  | it notifies nobody                                   | onboarding  | AccountPrepared, OnboardingCompleted                  |
        | vended | its holder is "jane.doe@example.com" | assigned  | it notifies "jane.doe@example.com" of AccountAssigned | onboarding  | AccountPrepared, AccountAssigned, OnboardingCompleted |

      Examples: maintenance
        | state  | holder                               | new state | notification                                         | transaction | events                                                 |
        | purged | it has no holder                     | prepared  | it notifies nobody                                   | maintenance | AccountPrepared, MaintenanceCompleted                  |
        | purged | its holder is "jane.doe@example.com" | assigned  | it notifies "jane.doe@example.com" of AccountAssigned | maintenance | AccountPrepared, AccountAssigned, MaintenanceCompleted |

  Rule: a holder takes a prepared account

    Scenario Outline: a pool account is given to its holder (<how>)
      Given an account in state "prepared"
      When <how> "jane.doe@example.com"
      Then the account is "assigned"
      And its holder is now "jane.doe@example.com"
      And it notifies "jane.doe@example.com" of AccountAssigned
      And it emits AccountAssigned

      Examples:
        | how                       |
        | the holder is tagged      |
        | an operator assigns it to |

    Scenario: a holder named during preparation gets the account once it is ready
      Given an account in state "vended" waiting for preparation build "b-1" at attempt 1
      When an operator assigns it to "jane.doe@example.com"
      Then the account is still "vended"
      And its holder is now "jane.doe@example.com"
      And it notifies nobody
      When preparation build "b-1" ends SUCCEEDED
      Then the account is "assigned"
      And it notifies "jane.doe@example.com" of AccountAssigned

  Rule: maintenance: an assigned account expires, is purged, then prepared again

    Scenario Outline: an assigned account expires (<trigger>, purge <purge>)
      Given an account in state "assigned" held by "jane.doe@example.com"
      And the lease is 30d
      And purge is <purge>
      When <trigger>
      Then the account is "<new state>"
      And <build>
      And <holder>
      And <notification>
      And it emits <events>

      Examples: the maintenance window: the holder keeps the account through maintenance
        | trigger                      | purge    | new state | build                                  | holder                                     | notification       | events                                      |
        | the maintenance window opens | enabled  | expired   | a purge build starts as attempt 1       | its holder is still "jane.doe@example.com" | it notifies nobody | AccountExpired, BuildStarted                |
        | an operator expires it       | enabled  | expired   | a purge build starts as attempt 1       | its holder is still "jane.doe@example.com" | it notifies nobody | AccountExpired, BuildStarted                |
        | the maintenance window opens | disabled | purged    | a preparation build starts as attempt 1 | its holder is still "jane.doe@example.com" | it notifies nobody | AccountExpired, AccountPurged, BuildStarted |

      Examples: the lease ends: the holder gives the account back
        | trigger                                    | purge    | new state | build                                  | holder                    | notification                                        | events                                      |
        | the lease ends                             | enabled  | expired   | a purge build starts as attempt 1       | it has no holder any more | it notifies "jane.doe@example.com" of AccountExpired | AccountExpired, BuildStarted                |
        | an operator releases it                    | enabled  | expired   | a purge build starts as attempt 1       | it has no holder any more | it notifies "jane.doe@example.com" of AccountExpired | AccountExpired, BuildStarted                |
        | the sweeper runs at "2025-03-31T08:00:00Z" | enabled  | expired   | a purge build starts as attempt 1       | it has no holder any more | it notifies "jane.doe@example.com" of AccountExpired | AccountExpired, BuildStarted                |
        | the lease ends                             | disabled | purged    | a preparation build starts as attempt 1 | it has no holder any more | it notifies "jane.doe@example.com" of AccountExpired | AccountExpired, AccountPurged, BuildStarted |

    Scenario: the maintenance window opens a maintenance transaction
      Given an account in state "assigned" held by "jane.doe@example.com"
      When the maintenance window opens
      Then its maintenance transaction is open since "2025-03-01T09:00:00Z", due at "2025-03-01T13:00:00Z"

    Scenario: the sweeper leaves alone a lease that has not ended
      Given an account in state "assigned" held by "jane.doe@example.com"
      And the lease is 30d
      When the sweeper runs at "2025-03-31T07:59:59Z"
      Then the account is still "assigned"
      And nothing changes

    Scenario Outline: the purge succeeds (preparation <preparation>)
      Given an account in state "expired" held by "jane.doe@example.com" waiting for purge build "b-7" at attempt 1
      And preparation is <preparation>
      When purge build "b-7" ends SUCCEEDED
      Then the account is "<new state>"
      And <build>
      And it emits <events>

      Examples:
        | preparation | new state | build                                  | events                                                               |
        | enabled     | purged    | a preparation build starts as attempt 1 | AccountPurged, BuildStarted                                          |
        | disabled    | assigned  | no build starts                        | AccountPurged, AccountPrepared, AccountAssigned, MaintenanceCompleted |

    Scenario: a purge that ran as a dry run deleted nothing, so the account is not handed on
      Given an account in state "expired" held by "jane.doe@example.com" waiting for purge build "b-7" at attempt 1
      And the purge is a dry run
      When purge build "b-7" ends SUCCEEDED
      Then the account is "quarantined"
      And no build starts
      And it emits AccountQuarantined
      And it raises PurgeDryRun because "purge build `b-7` ran as a dry run (PURGE_MODE is not --no-dry-run): it listed what it would delete and deleted nothing"

  Rule: the lease counts from when the holder was first given the account; maintenance does not renew it

    Scenario: a 30-day lease runs through a weekly maintenance cycle and ends on time
      Given an account in state "assigned" held by "jane.doe@example.com"
      And the lease is 30d
      When time passes until "2025-03-08T18:00:00Z"
      And the maintenance window opens
      And the build service names the started build "purge-1"
      And purge build "purge-1" ends SUCCEEDED
      And the build service names the started build "prep-1"
      And preparation build "prep-1" ends SUCCEEDED
      Then the account is "assigned"
      And its tags include:
        | key                    | value                |
        | account-since          | 2025-03-08T18:00:00Z |
        | account-assigned-since | 2025-03-01T08:00:00Z |
      When the sweeper runs at "2025-03-31T07:59:59Z"
      Then the account is still "assigned"
      And nothing changes
      When the sweeper runs at "2025-03-31T08:00:00Z"
      Then the account is "expired"
      And it has no holder any more
      And it notifies "jane.doe@example.com" of AccountExpired

    Scenario: after a lease ends, the next holder gets a lease of their own
      Given an account in state "assigned" held by "jane.doe@example.com"
      And the lease is 30d
      When time passes until "2025-03-31T08:00:00Z"
      And the sweeper runs
      Then the account is "expired"
      And it has no holder any more
      And it removes the tags "account-assigned-since"
      When the build service names the started build "purge-1"
      And purge build "purge-1" ends SUCCEEDED
      And the build service names the started build "prep-1"
      And preparation build "prep-1" ends SUCCEEDED
      Then the account is "prepared"
      When time passes until "2025-04-02T10:00:00Z"
      And an operator assigns it to "john.roe@example.com"
      Then the account is "assigned"
      And its tags include:
        | key                    | value                |
        | account-holder         | john.roe@example.com |
        | account-assigned-since | 2025-04-02T10:00:00Z |
      When the sweeper runs at "2025-05-02T09:59:59Z"
      Then the account is still "assigned"
      And nothing changes
      When the sweeper runs at "2025-05-02T10:00:00Z"
      Then the account is "expired"
      And it notifies "john.roe@example.com" of AccountExpired

  Rule: a failed build is tried again, and the account is quarantined at max_attempts

    Scenario Outline: a <kind> build ends <status> at attempt <attempt> of 3
      Given builds are tried at most 3 times
      And an account in state "<state>" waiting for <kind> build "b-1" at attempt <attempt>
      When <kind> build "b-1" ends <status>
      Then the account is "<new state>"
      And <outcome>

      Examples: tried again
        | state   | kind        | attempt | status    | new state | outcome                                |
        | vended  | preparation | 1       | FAILED    | vended    | a preparation build starts as attempt 2 |
        | vended  | preparation | 2       | STOPPED   | vended    | a preparation build starts as attempt 3 |
        | expired | purge       | 1       | TIMED_OUT | expired   | a purge build starts as attempt 2       |
        | purged  | preparation | 2       | FAULT     | purged    | a preparation build starts as attempt 3 |

      Examples: quarantined
        | state   | kind        | attempt | status    | new state   | outcome                                                                              |
        | vended  | preparation | 3       | FAILED    | quarantined | it raises BuildFailed because "preparation build `b-1` ended FAILED at attempt 3 of 3" |
        | expired | purge       | 3       | TIMED_OUT | quarantined | it raises BuildFailed because "purge build `b-1` ended TIMED_OUT at attempt 3 of 3"    |
        | purged  | preparation | 3       | STOPPED   | quarantined | it raises BuildFailed because "preparation build `b-1` ended STOPPED at attempt 3 of 3" |

    Scenario: with one attempt allowed, the first failure quarantines
      Given builds are tried at most 1 time
      And an account in state "vended" waiting for preparation build "b-1" at attempt 1
      When preparation build "b-1" ends FAILED
      Then the account is "quarantined"
      And no build starts
      And it raises BuildFailed
      And it emits AccountQuarantined

    Scenario: a failing preparation, event by event
      Given builds are tried at most 2 times
      And an account in state "vended" waiting for preparation build "b-1" at attempt 1
      When preparation build "b-1" ends FAILED
      Then the account is still "vended"
      And a preparation build starts as attempt 2
      And it raises no exception
      When the build service names the started build "b-2"
      And preparation build "b-1" ends FAILED
      Then it is rejected as stale because "stale build `b-1`: the account waits for `b-2`"
      When preparation build "b-2" ends FAILED
      Then the account is "quarantined"
      And it raises BuildFailed because "attempt 2 of 2"
      And it emits AccountQuarantined

  Rule: an operator brings a quarantined account back

    Scenario Outline: a quarantined account is re-vended during its <transaction> (<trigger>)
      Given an account in state "quarantined"
      And its <transaction> transaction is still open
      When <trigger>
      Then the account is "<new state>"
      And a <kind> build starts as attempt 1
      And its <transaction> transaction is open since "2025-03-01T08:00:00Z", due at "<due>"

      Examples: on-boarding starts over with a preparation
        | transaction | trigger                      | new state | kind        | due                  |
        | onboarding  | an operator resets it        | vended    | preparation | 2025-03-01T11:00:00Z |
        | onboarding  | its state is tagged "vended" | vended    | preparation | 2025-03-01T11:00:00Z |

      Examples: maintenance starts over with a purge: a purge is never skipped
        | transaction | trigger                      | new state | kind  | due                  |
        | maintenance | an operator resets it        | expired   | purge | 2025-03-01T13:00:00Z |
        | maintenance | its state is tagged "vended" | expired   | purge | 2025-03-01T13:00:00Z |

  Rule: the sweeper turns an overdue transaction into an exception

    Scenario Outline: the sweeper runs at <at> on a <state> account whose <transaction> is due at 10:00
      Given an account in state "<state>" waiting for <kind> build "b-1" at attempt 1
      And its <transaction> transaction is due at "2025-03-01T10:00:00Z"
      When the sweeper runs at "<at>"
      Then the account is "<new state>"
      And <outcome>

      Examples: not due yet
        | state   | kind        | transaction | at                   | new state | outcome         |
        | vended  | preparation | onboarding  | 2025-03-01T09:59:59Z | vended    | nothing changes |
        | expired | purge       | maintenance | 2025-03-01T09:59:59Z | expired   | nothing changes |

      Examples: overdue
        | state   | kind        | transaction | at                   | new state   | outcome                                                           |
        | vended  | preparation | onboarding  | 2025-03-01T10:00:00Z | quarantined | it raises OnboardingTimedOut because "was due at 2025-03-01T10:00:00Z" |
        | expired | purge       | maintenance | 2025-03-01T10:00:00Z | quarantined | it raises MaintenanceTimedOut                                     |
        | purged  | preparation | maintenance | 2025-03-02T08:00:00Z | quarantined | it raises MaintenanceTimedOut                                     |

    Scenario: the sweeper quarantines an account whose tags were edited by hand
      Given its tags are:
        | key           | value                |
        | account-state | assigned             |
        | account-since | 2025-03-01T08:00:00Z |
      When the sweeper runs
      Then the account is "quarantined"
      And it raises Drift because "the account is assigned but has no holder"

    Scenario: the sweeper quarantines an assignment start left without holder, and drops it
      Given its tags are:
        | key                    | value                |
        | account-state          | prepared             |
        | account-since          | 2025-03-01T08:00:00Z |
        | account-assigned-since | 2025-03-01T08:00:00Z |
      When the sweeper runs
      Then the account is "quarantined"
      And it raises Drift because "the account records the start of an assignment but has no holder"
      And it removes the tags "account-assigned-since"

  Rule: an account that leaves the managed OUs, or is closed, is no longer managed

    Scenario Outline: <account> leaves management: <trigger>
      Given <account>
      When <trigger>
      Then the account is "unmanaged"
      And no build starts
      And its lifecycle tags are <tags>
      And it emits AccountUnmanaged

      Examples:
        | account                                                                                                 | trigger                                      | tags             |
        | an account in state "vended" waiting for preparation build "b-1" at attempt 1                           | the account is moved out of managed OUs      | removed          |
        | an account in state "assigned" held by "jane.doe@example.com"                                           | the account is moved out of managed OUs      | removed          |
        | an account in state "expired" held by "jane.doe@example.com" waiting for purge build "b-1" at attempt 1 | the account is closed                        | removed          |
        | an account in state "quarantined"                                                                       | the account is closed                        | removed          |
        | an account in state "prepared"                                                                          | the account is removed from the organization | left as they are |

    Scenario: an assigned account that is closed keeps its holder tag and is not purged
      Given an account in state "assigned" held by "jane.doe@example.com"
      When the account is closed
      Then the account is "unmanaged"
      And its holder is still "jane.doe@example.com"
      And no build starts
      And it notifies nobody

  Rule: a cooldown after each purge: no new holder is given the account before it ends

    Scenario: the end of a purge starts the cooldown
      Given an account in state "expired" waiting for purge build "b-1" at attempt 1
      And the cooldown is 72h
      When purge build "b-1" ends SUCCEEDED
      Then the account is "purged"
      And its tags include:
        | key                    | value                |
        | account-cooldown-until | 2025-03-04T09:00:00Z |

    Scenario: an operator who assigns a pool account in its cooldown is told when it ends
      Given an account in state "prepared"
      And the cooldown is 72h
      And its cooldown runs until "2025-03-04T09:00:00Z"
      When an operator assigns it to "john.roe@example.com"
      Then it is rejected as cooldown because "until 2025-03-04T09:00:00Z: it can be assigned from then"
      And nothing changes

    Scenario: a holder tagged during the cooldown waits; the first sweep after it gives them the account
      Given an account in state "prepared"
      And the cooldown is 72h
      And its cooldown runs until "2025-03-04T09:00:00Z"
      And its holder is "john.roe@example.com"
      When the holder is tagged "john.roe@example.com"
      Then the account is still "prepared"
      And it notifies nobody
      When the sweeper runs at "2025-03-04T08:45:00Z"
      Then the account is still "prepared"
      When the sweeper runs at "2025-03-04T09:00:00Z"
      Then the account is now "assigned"
      And it notifies "john.roe@example.com" of AccountAssigned

  Rule: an operator closes an account: a last purge, then it leaves management, closed

    Scenario: closing an assigned account ends the assignment and starts the last purge
      Given an account in state "assigned" held by "jane.doe@example.com"
      When an operator closes it
      Then the account is "expired"
      And a purge build starts as attempt 1
      And it has no holder any more
      And it notifies "jane.doe@example.com" of AccountExpired
      And its tags include:
        | key             | value                |
        | account-closing | 2025-03-01T09:00:00Z |

    Scenario: after its last purge the account is unmanaged, with no cooldown and no preparation
      Given an account in state "expired" waiting for purge build "b-1" at attempt 1
      And the cooldown is 72h
      And its tags include the closing asked at "2025-03-01T08:00:00Z"
      When purge build "b-1" ends SUCCEEDED
      Then the account is "unmanaged"
      And no build starts
      And it emits AccountPurged, AccountUnmanaged

    Scenario: a closing account is given to nobody
      Given an account in state "expired" waiting for purge build "b-1" at attempt 1
      And its tags include the closing asked at "2025-03-01T08:00:00Z"
      When an operator assigns it to "john.roe@example.com"
      Then it is rejected as illegal because "it is being closed"

  Rule: a duplicate, late or misplaced event changes nothing, and says why

    Scenario Outline: <trigger> is rejected as <rejection> for <account>
      Given <account>
      When <trigger>
      Then it is rejected as <rejection> because "<reason>"
      And nothing changes

      Examples: duplicate or late
        | account                                                                                                 | trigger                                    | rejection | reason                             |
        | an account in state "vended" waiting for preparation build "b-1" at attempt 1                           | the account enters a managed OU            | duplicate | is managed already                 |
        | an account in state "vended" waiting for preparation build "b-1" at attempt 1                           | its state is tagged "vended"               | duplicate | its preparation is under way       |
        | an account in state "prepared"                                                                          | preparation build "b-1" ends SUCCEEDED     | duplicate | waits for no build                 |
        | an account in state "assigned" held by "jane.doe@example.com"                                           | the holder is tagged "jane.doe@example.com" | duplicate | is assigned to this holder already |
        | an account in state "expired" held by "jane.doe@example.com" waiting for purge build "b-1" at attempt 1 | the maintenance window opens               | duplicate | is under maintenance already       |
        | an account in state "prepared"                                                                          | the lease ends                             | duplicate | has no holder                      |
        | an unmanaged account                                                                                    | the account is closed                      | duplicate | is unmanaged already               |

      Examples: stale: not the awaited build
        | account                                                                       | trigger                             | rejection | reason                                         |
        | an account in state "vended" waiting for preparation build "b-2" at attempt 2 | preparation build "b-1" ends FAILED | stale     | stale build `b-1`: the account waits for `b-2` |
        | an account in state "purged" waiting for preparation build "b-9" at attempt 1 | purge build "b-8" ends SUCCEEDED    | stale     | stale build `b-8`: the account waits for `b-9` |

      Examples: illegal: the event does not apply to the state
        | account                                                       | trigger                                      | rejection | reason                                                         |
        | an unmanaged account                                          | build "b-1" ends SUCCEEDED                   | illegal   | an unmanaged account waits for no build                        |
        | an account in state "prepared"                                | the maintenance window opens                 | illegal   | only an assigned account expires                               |
        | an account in state "assigned" held by "jane.doe@example.com" | an operator assigns it to "john.roe@example.com" | illegal   | it is held by another person: release it first                 |
        | an account in state "assigned" held by "jane.doe@example.com" | an operator resets it                        | illegal   | only an unmanaged, quarantined or idle vended account is reset |

    Scenario: a redelivered event starts nothing twice
      Given an unmanaged account
      When the account enters a managed OU
      Then a preparation build starts as attempt 1
      When the same event arrives again
      Then it is rejected as duplicate because "is managed already"
      And nothing changes

    Scenario: a redelivered build failure is not retried twice
      Given an account in state "vended" waiting for preparation build "b-1" at attempt 1
      When preparation build "b-1" ends FAILED
      Then a preparation build starts as attempt 2
      When the same event arrives again
      Then it is rejected as stale because "the account waits for a build whose id is not tagged yet"
      When the build service names the started build "b-2"
      And the same event arrives again
      Then it is rejected as stale because "the account waits for `b-2`"
      And nothing changes

  Rule: the whole round

    Scenario: an account goes from the pool to its holder, through maintenance, and back
      Given an unmanaged account
      When the account enters a managed OU
      And the build service names the started build "prep-1"
      And preparation build "prep-1" ends SUCCEEDED
      Then the account is "prepared"
      And its onboarding transaction completes
      When an operator assigns it to "jane.doe@example.com"
      Then the account is "assigned"
      When time passes until "2025-03-08T18:00:00Z"
      And the maintenance window opens
      Then the account is "expired"
      And its maintenance transaction is open since "2025-03-08T18:00:00Z", due at "2025-03-08T22:00:00Z"
      When the build service names the started build "purge-1"
      And purge build "purge-1" ends SUCCEEDED
      Then the account is "purged"
      When the build service names the started build "prep-2"
      And preparation build "prep-2" ends SUCCEEDED
      Then the account is "assigned"
      And its holder is still "jane.doe@example.com"
      And its maintenance transaction completes
      And it emits AccountPrepared, AccountAssigned, MaintenanceCompleted
      And its tags include:
        | key                    | value                |
        | account-since          | 2025-03-08T18:00:00Z |
        | account-assigned-since | 2025-03-01T09:00:00Z |
