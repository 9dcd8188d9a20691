@serial
Feature: Accounts on the emulator
  Here spa runs for real, the way it runs in AWS. The organization, the engine's tables,
  bus and command queue are in moto (the AWS emulator), and every adapter is connected.
  Events go to the functions that the deployed rules send them to, and builds run in
  moto's CodeBuild, which reports them SUCCEEDED at once. Each scenario starts from an
  empty emulator. An account is known by the name the scenario gives it, because moto
  chooses the ids. The account's state is read from its tags in AWS Organizations, and
  what happened is read from spa's history in DynamoDB.

  Unless a scenario says otherwise, spa manages the organizational unit "ou-sandboxes"
  with preparation and purge enabled. "ou-parking" is not managed.

  Background:
    Given the organizational units:
      | unit         | parent |
      | ou-sandboxes | root   |
      | ou-parking   | root   |
    And spa manages "ou-sandboxes" with the settings:
      """
      preparation: {feature: enabled}
      purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
      """

  Rule: an account that enters a managed OU is on-boarded: vended, prepared, then given to its holder

    Scenario: accounts created in a managed OU are prepared; the one with a holder is assigned
      Given the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
        | pool    | ou-sandboxes |                  |
      When AWS Organizations reports that every account was created
      Then "jane" is "assigned"
      And "jane" is held by "jane@example.com"
      And spa started 1 preparation build and 0 purge builds for "jane"
      And the history of "jane" includes AccountVended, BuildStarted, AccountPrepared, AccountAssigned, OnboardingCompleted
      And "pool" is "prepared"
      And "pool" has no holder
      And spa started 1 preparation build and 0 purge builds for "pool"

    Scenario: an account moved from an unmanaged OU into a managed one is on-boarded
      Given the accounts:
        | account | unit       | holder |
        | bob     | ou-parking |        |
      When a person moves "bob" from "ou-parking" to "ou-sandboxes"
      Then "bob" is "prepared"
      And spa started 1 preparation build and 0 purge builds for "bob"
      And the history of "bob" includes AccountVended, AccountPrepared, OnboardingCompleted

    Scenario: an account a person tags "vended", with a holder, is on-boarded and assigned
      Given the accounts:
        | account | unit         | holder |
        | carol   | ou-sandboxes |        |
      When a person tags "carol" with:
        | key            | value             |
        | account-state  | vended            |
        | account-holder | carol@example.com |
      Then "carol" is "assigned"
      And "carol" is held by "carol@example.com"
      And spa started 1 preparation build and 0 purge builds for "carol"

    Scenario: an account created outside the managed OUs is left alone, and the event is recorded
      Given the accounts:
        | account | unit       | holder |
        | bob     | ou-parking |        |
      When AWS Organizations reports that "bob" was created
      Then "bob" is unmanaged
      And nothing changed for "bob"
      And spa started no build
      And the history of "bob" includes AccountUnmanaged

  Rule: an account under a listed OU, nested at any depth, is managed; the nearest listed OU's settings win

    Scenario: accounts in nested OUs are managed with the settings of their nearest listed OU
      Given the organizational units:
        | unit     | parent       |
        | ou-teams | ou-sandboxes |
        | ou-data  | ou-teams     |
      And spa manages "ou-sandboxes" with the settings:
        """
        preparation: {feature: enabled}
        purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
        account_tags: {team: sandboxes, managed-by: spa}
        """
      And spa manages "ou-data" with the settings:
        """
        preparation: {feature: disabled}
        account_tags: {team: data}
        """
      And the accounts:
        | account | unit     | holder |
        | dan     | ou-teams |        |
        | erin    | ou-data  |        |
      When AWS Organizations reports that every account was created
      Then "dan" is "prepared"
      And "dan" has the tags:
        | key        | value     |
        | team       | sandboxes |
        | managed-by | spa       |
      And spa started 1 preparation build and 0 purge builds for "dan"
      And "erin" is "prepared"
      And "erin" has the tags:
        | key        | value |
        | team       | data  |
        | managed-by | spa   |
      And spa started 0 preparation builds and 0 purge builds for "erin"

  Rule: maintenance: the window expires assigned accounts, which are purged and prepared again for their holder

    Scenario: the maintenance window purges and prepares an assigned account once; its holder keeps it
      Given the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
        | pool    | ou-sandboxes |                  |
      And AWS Organizations reported that every account was created
      When EventBridge Scheduler opens the maintenance window
      Then "jane" is "assigned"
      And "jane" is held by "jane@example.com"
      And spa started 1 preparation build and 1 purge build for "jane"
      And the history of "jane" includes AccountExpired, AccountPurged, AccountPrepared, AccountAssigned, MaintenanceCompleted
      And nothing changed for "pool"

    Scenario: with preparation and purge disabled, accounts go through every state without a build
      Given spa manages "ou-sandboxes" with the settings:
        """
        preparation: {feature: disabled}
        purge: {feature: disabled}
        """
      And the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
        | pool    | ou-sandboxes |                  |
      When AWS Organizations reports that every account was created
      Then "jane" is "assigned"
      And "pool" is "prepared"
      And spa started no build
      When EventBridge Scheduler opens the maintenance window
      Then "jane" is "assigned"
      And "jane" is held by "jane@example.com"
      And the history of "jane" includes AccountExpired, AccountPurged, MaintenanceCompleted
      And spa started no build
      And nothing changed for "pool"

  Rule: a failed build is tried again; past max_attempts the account is quarantined until an operator resets it

    Scenario: a preparation that fails twice, with max_attempts 2, quarantines the account
      Given spa manages "ou-sandboxes" with the settings:
        """
        preparation: {feature: enabled}
        purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
        max_attempts: 2
        """
      And the accounts:
        | account | unit         | holder |
        | pool    | ou-sandboxes |        |
      And the scenario reports the ends of builds itself
      When AWS Organizations reports that "pool" was created
      Then "pool" is "vended"
      And "pool" waits for its preparation build, attempt 1
      When the preparation build of "pool" ends FAILED
      Then "pool" is "vended"
      And "pool" waits for its preparation build, attempt 2
      When the preparation build of "pool" ends FAILED
      Then "pool" is "quarantined"
      And "pool" waits for no build
      And the history of "pool" includes BuildFailed, AccountQuarantined
      And spa started 2 preparation builds and 0 purge builds for "pool" in all

    Scenario: an operator resets a quarantined account, and it is prepared again
      Given spa manages "ou-sandboxes" with the settings:
        """
        preparation: {feature: enabled}
        purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
        max_attempts: 1
        """
      And the accounts:
        | account | unit         | holder |
        | pool    | ou-sandboxes |        |
      And the scenario reports the ends of builds itself
      And AWS Organizations reported that "pool" was created
      And the preparation build of "pool" ended TIMED_OUT
      And "pool" is "quarantined"
      When an operator resets "pool"
      Then "pool" is "vended"
      And "pool" waits for its preparation build, attempt 1
      When the builds run to their end
      Then "pool" is "prepared"
      And the history of "pool" includes AccountVended, AccountPrepared, OnboardingCompleted

  Rule: a duplicate or late event changes nothing and starts nothing twice

    Scenario: the same CreateAccountResult delivered twice starts one preparation
      Given the accounts:
        | account | unit         | holder |
        | pool    | ou-sandboxes |        |
      When AWS Organizations reports that "pool" was created, twice
      Then "pool" is "prepared"
      And spa started 1 preparation build and 0 purge builds for "pool"

    Scenario: the late result of a build the account no longer waits for changes nothing
      Given the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
      And AWS Organizations reported that every account was created
      When the end of the first preparation build of "jane" is reported again, as FAILED
      Then nothing changed for "jane"
      And spa started no build

  Rule: an account that leaves the managed OUs is no longer managed, and it is not purged

    Scenario: an assigned account moved out of the managed OUs is unmanaged, without a purge
      Given the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
      And AWS Organizations reported that every account was created
      When a person moves "jane" from "ou-sandboxes" to "ou-parking"
      Then "jane" is unmanaged
      And "jane" has none of the tags account-state, account-since, account-assigned-since, account-attempts, account-build, account-transaction
      And spa started no build
      And the history of "jane" includes AccountUnmanaged
      When EventBridge Scheduler opens the maintenance window
      Then nothing changed for "jane"
      And spa started no build

    Scenario: a closed account is unmanaged, without a purge
      Given the accounts:
        | account | unit         | holder |
        | pool    | ou-sandboxes |        |
      And AWS Organizations reported that every account was created
      When AWS Organizations reports that "pool" was closed
      Then "pool" is unmanaged
      And spa started no build
      And the history of "pool" includes AccountUnmanaged

  Rule: a prepared account without holder waits in the pool; a lease that ends gives the account back to the pool

    Scenario: the sweeper ends a 1-day lease: the account is purged and goes back to the pool without holder
      Given spa manages "ou-sandboxes" with the settings:
        """
        preparation: {feature: enabled}
        purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
        lease: 1d
        """
      And the accounts:
        | account | unit         | holder           |
        | jane    | ou-sandboxes | jane@example.com |
        | pool    | ou-sandboxes |                  |
      And AWS Organizations reported that every account was created
      When EventBridge Scheduler runs the sweeper 12 hours later
      Then nothing changed for "jane"
      And nothing changed for "pool"
      When EventBridge Scheduler runs the sweeper 2 days later
      Then "jane" is "prepared"
      And "jane" has no holder
      And spa started 1 preparation build and 1 purge build for "jane"
      And the history of "jane" includes AccountExpired, AccountPurged, AccountPrepared, MaintenanceCompleted
      And "pool" is "prepared"
      And nothing changed for "pool"
