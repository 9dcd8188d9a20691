Feature: The /spa slash command in Slack
  An engineer types `/spa …` in Slack; Slack posts the form to spa's endpoint, signed
  with the app's signing secret. spa answers only requests whose signature, made less
  than 5 minutes ago, it can check, and each of them once: anything else is a 401 with
  a body that says no more than "unauthorized", and nothing runs. `help` and
  `status ACCOUNT` are answered at once, only to the asker; `costs` and `find` take
  longer: the asker is told spa is working on it, the question goes to the command
  queue, and the answer is posted once to Slack's response URL when the job runs.
  A holder may ask about the accounts they hold, an admin (`features.slack_admins`)
  about any; the refusal reads the same whether the account is someone else's or
  does not exist. A holder's accounts are found through spa's holder index, which
  the accounts' transitions and spa's inventory keep. The organization, the member
  accounts and Slack's user directory are in-memory doubles here; `engine/local/tests/local/slack_commands.rs` covers the corners.

  Background:
    Given the Slack users:
      | user   | email                |
      | UJANE  | jane.doe@example.com |
      | UJOHN  | john.roe@example.com |
      | UADMIN | boss@example.com     |
    And the Slack admins "UADMIN"
    And the sandbox accounts:
      | account      | name         | holder               |
      | 111111111111 | jane-sandbox | jane.doe@example.com |
      | 222222222222 | john-sandbox | john.roe@example.com |

  Rule: help and status are answered at once, only about what the asker may see

    Scenario: help lists the commands
      When "UJANE" sends "/spa help"
      Then the answer is 200
      And the asker sees "/spa status"
      And the asker sees "/spa costs"
      And the asker sees "/spa find"
      And the asker sees "/spa help"

    Scenario: a holder sees the state of the account they hold
      When "UJANE" sends "/spa status 111111111111"
      Then the answer is 200
      And the asker sees "jane-sandbox"
      And the asker sees "*assigned*"
      And the asker does not see "jane.doe@example.com"

    Scenario: a holder asking about another engineer's account learns nothing about it
      When "UJANE" sends "/spa status 222222222222"
      Then the answer is 200
      And the asker sees "You can ask only about accounts you hold"
      And the asker does not see "john-sandbox"
      When "UJANE" sends "/spa status 999999999999"
      Then the asker sees the same refusal as before, but for the account id

    Scenario: an admin may ask about any account
      When "UADMIN" sends "/spa status 222222222222"
      Then the answer is 200
      And the asker sees "john-sandbox"
      And the asker sees "*assigned*"

  Rule: a request spa cannot trust is refused before anything runs

    Scenario: a member of another workspace, in a channel shared with it, learns nothing
      When "UADMIN" of another Slack workspace sends "/spa status 222222222222" in a shared channel
      Then the answer is 200
      And the asker sees "spa answers the members of its own Slack workspace only"
      And the asker does not see "john-sandbox"

    Scenario Outline: a request whose signature does not hold is a 401 that says nothing more
      When "UJANE" sends "/spa status 111111111111" <how>
      Then the answer is 401
      And the answer body is exactly the error "unauthorized"
      And nothing was run

      Examples:
        | how                                  |
        | with the body changed after signing  |
        | signed with another secret           |
        | signed 6 minutes ago                 |
        | without the signature header         |

    Scenario: the same signed request sent twice is answered once
      When "UJANE" sends "/spa status 111111111111"
      Then the answer is 200
      When the same request is sent again
      Then the answer is 401
      And the answer body is exactly the error "unauthorized"

    Scenario: a correctly signed body that is not a slash command form is a 400
      When a correctly signed request has the body "command=%2Fspa&text=help"
      Then the answer is 400
      And the answer body is exactly the error "bad request"

  Rule: costs and find are answered later, once, at the response URL

    Scenario: costs says it is working on it, then the answer is posted once
      When "UJANE" sends "/spa costs"
      Then the answer is 200
      And the asker sees "Working on `costs`"
      And nothing has been posted to the response URL yet
      When the queued job runs
      Then one answer was posted to the response URL
      And the posted answer shows "jane-sandbox"
      And the posted answer does not show "222222222222"
      When the queued job runs again
      Then one answer was posted to the response URL

    Scenario: an admin finds which account and region an instance is in
      Given the instance "i-0bbbbbbbbbbbbbbb2" named "worker" runs in "222222222222" "us-east-1"
      And the instance "i-0aaaaaaaaaaaaaaa1" named "api" runs in "111111111111" "eu-west-1"
      When "UADMIN" sends "/spa find i-0bbbbbbbbbbbbbbb2"
      Then the answer is 200
      And the asker sees "Working on `find i-0bbbbbbbbbbbbbbb2`"
      When the queued job runs
      Then one answer was posted to the response URL
      And the posted answer shows "i-0bbbbbbbbbbbbbbb2"
      And the posted answer shows "222222222222 us-east-1"
      And the posted answer does not show "i-0aaaaaaaaaaaaaaa1"
