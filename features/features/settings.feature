Feature: Settings, as an operator writes and reads them
  One settings.yaml says how spa treats every account. For one account, spa applies
  `defaults`, then each listed organizational unit above the account from the root
  down (the nearest one last, so it wins), then the account's own entry. Maps
  (`account_tags`, build `variables`, `budget`) merge key by key; lists and single
  values are replaced. An account is managed when it is listed, or when one of its
  OUs is listed.

  Rule: settings resolve from defaults, through the listed OUs, to the account

    Background:
      Given the settings begin with:
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        """

    Scenario: an account listed on its own gets the defaults
      Given the settings go on with:
        """
        defaults:
          account_tags:
            managed-by: spa
            team: none
          unset_tags: [legacy-owner]
          preparation:
            feature: enabled
            variables:
              REGION: eu-west-1
          purge:
            feature: enabled
            variables:
              PURGE_MODE: --no-dry-run
          budget:
            amount: 100
        accounts:
          - identifier: '111111111111'
        """
      And the organization:
        | child        | parent |
        | 111111111111 | r-root |
      When the settings are loaded
      Then the settings load without warnings
      When the settings of account "111111111111" are resolved
      Then the settings apply in this order: defaults, 111111111111
      And its account tags are:
        | key        | value |
        | managed-by | spa   |
        | team       | none  |
      And its preparation variables are:
        | key    | value     |
        | REGION | eu-west-1 |
      And its budget is 100 USD with alerts at 80%, 100%
      And the lifecycle policy has:
        | setting              | value        |
        | preparation          | enabled      |
        | purge                | enabled      |
        | max attempts         | 3            |
        | budget               | ensured      |
        | lease                | none         |
        | unset tags           | legacy-owner |
        | onboarding deadline  | 2h           |
        | maintenance deadline | 4h           |

    Scenario: without defaults, builds are off until the settings ask for them
      Given the settings go on with:
        """
        accounts:
          - identifier: '111111111111'
        """
      And the organization:
        | child        | parent |
        | 111111111111 | r-root |
      When the settings of account "111111111111" are resolved
      Then the lifecycle policy has:
        | setting      | value    |
        | preparation  | disabled |
        | purge        | disabled |
        | max attempts | 3        |
        | budget       | none     |
        | lease        | none     |

    Scenario: an organizational unit overrides the defaults
      Given the settings go on with:
        """
        defaults:
          account_tags: {managed-by: spa, team: none}
          preparation:
            feature: enabled
            variables: {REGION: eu-west-1, BASELINE: v1}
          max_attempts: 3
          budget: {amount: 100}
        organizational_units:
          - identifier: ou-sbx-engineering
            account_tags: {team: engineering}
            preparation:
              variables: {BASELINE: v2}
            max_attempts: 5
            budget: {amount: 300, currency: EUR}
        """
      And the organization:
        | child              | parent             |
        | ou-sbx-engineering | r-root             |
        | 222222222222       | ou-sbx-engineering |
      When the settings of account "222222222222" are resolved
      Then the settings apply in this order: defaults, ou-sbx-engineering
      And its account tags are:
        | key        | value       |
        | managed-by | spa         |
        | team       | engineering |
      And its preparation variables are:
        | key      | value     |
        | REGION   | eu-west-1 |
        | BASELINE | v2        |
      And its preparation is enabled
      And its budget is 300 EUR with alerts at 80%, 100%
      And the lifecycle policy has:
        | setting      | value |
        | max attempts | 5     |

    Scenario: in nested OUs the nearest listed one wins and maps merge key by key
      Given the settings go on with:
        """
        defaults:
          account_tags: {managed-by: spa}
          preparation:
            feature: enabled
            variables: {A: defaults}
        organizational_units:
          - identifier: ou-sbx-data
            account_tags: {level: data}
            preparation:
              variables: {A: data}
            lease: 30d
          - identifier: ou-sbx-sandboxes
            account_tags: {level: sandboxes, team: platform}
            preparation:
              variables: {B: sandboxes}
            max_attempts: 5
            lease: 90d
        """
      And the organization:
        | child            | parent           |
        | ou-sbx-sandboxes | r-root           |
        | ou-sbx-teams     | ou-sbx-sandboxes |
        | ou-sbx-data      | ou-sbx-teams     |
        | 333333333333     | ou-sbx-data      |
        | 444444444444     | ou-sbx-teams     |
      When the settings of account "333333333333" are resolved
      Then the settings apply in this order: defaults, ou-sbx-sandboxes, ou-sbx-data
      And its account tags are:
        | key        | value    |
        | managed-by | spa      |
        | level      | data     |
        | team       | platform |
      And its preparation variables are:
        | key | value     |
        | A   | data      |
        | B   | sandboxes |
      And the lifecycle policy has:
        | setting      | value |
        | max attempts | 5     |
        | lease        | 30d   |
      When the settings of account "444444444444" are resolved
      Then the settings apply in this order: defaults, ou-sbx-sandboxes
      And its account tags are:
        | key        | value     |
        | managed-by | spa       |
        | level      | sandboxes |
        | team       | platform  |
      And the lifecycle policy has:
        | setting | value |
        | lease   | 90d   |
      When the settings of organizational unit "ou-sbx-data" are resolved
      Then the settings apply in this order: defaults, ou-sbx-sandboxes, ou-sbx-data

    Scenario: an account's own entry wins over its OU
      Given the settings go on with:
        """
        defaults:
          account_tags: {managed-by: spa}
          budget: {amount: 100, thresholds: [50, 90]}
        organizational_units:
          - identifier: ou-sbx-engineering
            account_tags: {team: engineering}
            purge: {feature: enabled}
            cost_center: ENG-1
        accounts:
          - identifier: '555555555555'
            holder: alice@example.com
            account_tags: {owner: alice}
            budget: {amount: 250}
            purge: {feature: disabled}
            cost_center: FIN-7
        """
      And the organization:
        | child              | parent             |
        | ou-sbx-engineering | r-root             |
        | 555555555555       | ou-sbx-engineering |
      When the settings of account "555555555555" are resolved
      Then the settings apply in this order: defaults, ou-sbx-engineering, 555555555555
      And the settings name the holder "alice@example.com"
      And its account tags are:
        | key        | value       |
        | managed-by | spa         |
        | team       | engineering |
        | owner      | alice       |
      And its budget is 250 USD with alerts at 50%, 90%
      And its purge is disabled
      And the lifecycle policy has:
        | setting         | value    |
        | purge           | disabled |
        | tag cost-center | FIN-7    |
        | tag owner       | alice    |

    Scenario: an account outside every listed OU is not managed
      Given the settings go on with:
        """
        organizational_units:
          - identifier: ou-sbx-engineering
        accounts:
          - identifier: '555555555555'
        """
      And the organization:
        | child              | parent           |
        | ou-sbx-engineering | r-root           |
        | ou-sbx-marketing   | r-root           |
        | 666666666666       | ou-sbx-marketing |
        | 555555555555       | ou-sbx-marketing |
      When the settings of account "666666666666" are resolved
      Then spa does not manage it
      When the settings of organizational unit "ou-sbx-marketing" are resolved
      Then spa does not manage it
      When the settings of account "555555555555" are resolved
      Then the settings apply in this order: defaults, 555555555555

    Scenario: lease, attempts and a disabled preparation reach the lifecycle
      Given the settings go on with:
        """
        metering:
          onboarding_deadline: 90m
          maintenance_deadline: 6h
        defaults:
          preparation: {feature: enabled}
          purge: {feature: enabled}
        organizational_units:
          - identifier: ou-sbx-events
            preparation: {feature: disabled}
            max_attempts: 1
            lease: 2d
        """
      And the organization:
        | child         | parent        |
        | ou-sbx-events | r-root        |
        | 777777777777  | ou-sbx-events |
      When the settings of account "777777777777" are resolved
      Then the lifecycle policy has:
        | setting              | value    |
        | preparation          | disabled |
        | purge                | enabled  |
        | max attempts         | 1        |
        | lease                | 2d       |
        | onboarding deadline  | 90m      |
        | maintenance deadline | 6h       |
      When the account enters a managed OU
      Then the account is "prepared"
      And no build starts
      And it emits AccountVended, AccountPrepared, OnboardingCompleted

  Rule: a bad settings file says where and what, every mistake at once

    Scenario: a file with three mistakes reports three errors, each with its place and key path
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '12345'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        defaults:
          max_attempts: three
        accounts:
          - identifier: '111111111111'
            holder: bob
        """
      When the settings are loaded
      Then loading fails with 3 errors
      And the errors read:
        | at    | key path              | message                                                   |
        | 3:15  | automation.account_id | expected a 12-digit AWS account id                        |
        | 8:17  | defaults.max_attempts | expected a whole number from 1 to 100, found "three"      |
        | 11:13 | accounts[0].holder    | expected an e-mail address, found "bob"                   |

    Scenario: an unknown key suggests the right spelling
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        defaults:
          budjet:
            amount: 10
        organizational_units:
          - identifier: ou-sbx-engineering
            acount_tags: {team: engineering}
        """
      When the settings are loaded
      Then the user reads:
        """
        settings.yaml:8:3: error: defaults: unknown key `budjet`; did you mean `budget`?
        settings.yaml:12:5: error: organizational_units[0]: unknown key `acount_tags`; did you mean `account_tags`?
        """

    Scenario: a literal Slack webhook URL is refused: secrets are named, never written
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        notifications:
          slack_webhook: https://hooks.slack.com/services/T000/B000/XXXX
        """
      When the settings are loaded
      Then loading fails with 1 error
      And the errors read:
        | at   | key path                    | message                                                                          |
        | 8:18 | notifications.slack_webhook | this looks like a Slack webhook URL: secrets never go in the settings file        |

    Scenario: a purge without its mode is a dry run, and the file says what that means
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        defaults:
          preparation:
            feature: enabled
          purge:
            feature: enabled
        """
      When the settings are loaded
      Then the settings load with 1 warning
      And the warnings include:
        | at   | key path                           | message                                                                                                                                                                                                    |
        | 11:5 | defaults.purge.variables.PURGE_MODE | not set, so every purge is a dry run: it deletes nothing, and the account is quarantined (PurgeDryRun) instead of being handed on; write `PURGE_MODE: --no-dry-run` to purge, or `PURGE_MODE: --dry-run` to rehearse |

    Scenario: a webhook named by its SSM parameter loads
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        notifications:
          slack_webhook: ssm:/spa/slack-webhook
        defaults:
          preparation:
            feature: enabled
          purge:
            feature: enabled
            variables: {PURGE_MODE: --no-dry-run}
        """
      When the settings are loaded
      Then the settings load without warnings
      And the setting "notifications.slack_webhook" is "ssm:/spa/slack-webhook"

    Scenario: settings written for the Python SPA load, with a warning naming each new spelling
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window_expression: cron(0 18 ? * SAT *)
          role_arn_to_manage_accounts: arn:aws:iam::222222222222:role/SpaManagement
        """
      When the settings are loaded
      Then the settings load with 4 warnings
      And the warnings include:
        | at  | key path | message                                                                                   |
        | 5:3 |          | `automation.maintenance_window_expression` is the SPA spelling; write `automation.maintenance_window` |
        | 6:3 |          | `automation.role_arn_to_manage_accounts` is the SPA spelling; write `automation.management_role_arn`   |
      And the setting "automation.maintenance_window" is "cron(0 18 ? * SAT *)"
      And the setting "automation.management_role_arn" is "arn:aws:iam::222222222222:role/SpaManagement"

    Scenario: settings that never say whether builds run are warned that they do not
      Given the settings file "settings.yaml":
        """
        environment_identifier: SpaTest
        automation:
          account_id: '123456789012'
          region: eu-west-1
          maintenance_window: cron(0 18 ? * SAT *)
          management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
        """
      When the settings are loaded
      Then the settings load with 2 warnings
      And the warnings include:
        | at  | key path                    | message                                                                                                                                                         |
        | 1:1 | defaults.preparation.feature | not set, so preparation is disabled wherever a unit or account does not enable it: accounts become ready without a baseline build; write `feature: enabled` or `feature: disabled` |
        | 1:1 | defaults.purge.feature       | not set, so purge is disabled wherever a unit or account does not enable it: expired accounts are handed back without a purge; write `feature: enabled` or `feature: disabled`     |
