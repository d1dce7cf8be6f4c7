"""One name for each entity across an archive (analysis/entity_names.py): each merge rule, and
the vote on kinds, on mentions whose answer is known."""

from __future__ import annotations

from indexer.analysis.entity_names import resolve, spelling_key


def test_spellings_that_differ_in_case_dots_hyphens_and_accents_are_one():
    assert spelling_key("Kim Jong-nam") == spelling_key("Kim Jong Nam") == "kim jong nam"
    assert spelling_key("U.S.") == spelling_key("US") == spelling_key("U.S") == "us"
    assert spelling_key("Le Pen") == spelling_key("le pen") != spelling_key("Lepen")
    assert spelling_key("José Mourinho") == "jose mourinho"
    found = resolve([("person", "Kim Jong-nam", 23), ("person", "Kim Jong Nam", 15)])
    assert found["Kim Jong Nam"] == found["Kim Jong-nam"] == ("Kim Jong-nam", "person")


def test_initials_are_the_name_they_stand_for_when_one_dominates():
    found = resolve([("place", "United States", 40), ("place", "US", 30), ("place", "U.S.", 20),
                     ("organisation", "EU", 9), ("organisation", "European Union", 3),
                     ("organisation", "UN", 5), ("organisation", "United Nations", 2),
                     ("organisation", "Union of Nations", 2), ("organisation", "IBM", 4)])
    assert found["US"] == found["U.S."] == ("United States", "place")
    assert found["EU"] == ("European Union", "organisation")
    assert found["UN"] == ("UN", "organisation")  # two names of those initials, neither leads
    assert found["IBM"] == ("IBM", "organisation")  # no name of those initials: itself


def test_a_surname_is_the_person_who_holds_most_of_its_mentions():
    found = resolve([("person", "Jeff Sessions", 67), ("person", "Sessions", 7),
                     ("person", "Susan Collins", 26), ("person", "Phil Collins", 3),
                     ("person", "Kim Jong-un", 30), ("person", "Kim Jong-nam", 23),
                     ("person", "Kim", 4), ("place", "Washington", 50),
                     ("person", "George Washington", 5)])
    assert found["Sessions"] == ("Jeff Sessions", "person")
    assert found["Collins"] == ("Susan Collins", "person")  # 26 of 29: named, though never alone
    assert found["Kim"] == ("Kim", "person")  # no one Kim dominates
    assert found["Washington"] == ("Washington", "place")  # a place is no one's surname
    found = resolve([("organisation", "Trump", 737), ("person", "Trump", 163),
                     ("person", "Donald Trump", 827), ("person", "Ivanka Trump", 40),
                     ("organisation", "Ford", 50), ("person", "Harrison Ford", 2)])
    assert found["Trump"] == ("Donald Trump", "person")  # mostly called an organisation
    assert found["Ford"] == ("Ford", "organisation")  # a company far more than the actor


def test_the_kind_is_the_one_most_mentions_give_and_the_commonest_spelling_shows():
    found = resolve([("person", "Brexit", 4), ("organisation", "Brexit", 9), ("place", "brexit", 1),
                     ("place", "Aleppo", 30), ("person", "Aleppo", 1)])
    assert found["Brexit"] == found["brexit"] == ("Brexit", "organisation")
    assert found["Aleppo"] == ("Aleppo", "place")
    # One word, found mostly as a person but no one's surname: not a person after all.
    found = resolve([("person", "Brexit", 157), ("place", "Brexit", 70),
                     ("organisation", "Brexit", 19), ("person", "Madonna", 3)])
    assert found["Brexit"] == ("Brexit", "place") and found["Madonna"] == ("Madonna", "person")


def test_a_title_and_a_surname_are_the_person_of_that_surname():
    found = resolve([("person", "Theresa May", 74), ("person", "Mrs May", 28),
                     ("person", "May", 3), ("organisation", "Mr Sessions", 4),
                     ("person", "Jeff Sessions", 71), ("person", "Tory Brexit", 1),
                     ("person", "Brexit", 157), ("place", "Brexit", 70)])
    assert found["Mrs May"] == found["May"] == ("Theresa May", "person")
    assert found["Mr Sessions"] == ("Jeff Sessions", "person")
    assert found["Brexit"] == ("Brexit", "place")  # one "Tory Brexit" makes no surname


def test_initials_never_stand_for_a_person():
    found = resolve([("person", "Ms Sturgeon", 13), ("person", "Nicola Sturgeon", 36),
                     ("organisation", "MS", 1)])
    assert found["MS"] == ("MS", "organisation")
    assert found["Ms Sturgeon"] == ("Nicola Sturgeon", "person")
