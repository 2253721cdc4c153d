"""Search benchmark: each engine through the catalogue layer, next to raw tantivy and FTS5.

Builds an index of N synthetic bilingual variables (default 200,000) with each engine,
then prints build time, index size, cold open + first query in a new process, and p50 /
p95 latency of 200 varied queries (words, pairs, prefixes, phrases, names, misspellings,
browsing; one in three with facet filters), each with all eight facet counts and
highlighted snippets, page size 20. The same documents and queries also run straight on
tantivy (the floor: its own query parser and tokenizer, seven facet aggregations,
snippets) and on SQLite FTS5 (stdlib sqlite3), in the same run.

    .venv/bin/python bench/search.py                      # everything, 200,000 documents
    .venv/bin/python bench/search.py --docs 20000 --engines tantivy
    .venv/bin/python bench/search.py --whoosh-sizes 10000,50000,200000

The corpus is illustrative: cohort names and wave years follow the public descriptions
of the cohorts, every variable is invented. Labels combine a measure of one of 40 topics
with a time frame and a subject, in French and English, as cohort dictionaries do.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where "search" would mean
# this very file: put the repository root there instead, before importing the package.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import tantivy  # noqa: E402

from search.documents import SearchDocument  # noqa: E402
from search.engine import open_engine  # noqa: E402
from search.query import Filters, SearchQuery  # noqa: E402

# (code, French label, English label, ((French measure, English measure), ...))
TOPICS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("TAB", "Tabagisme", "Smoking", (
        ("Consommation de tabac", "Tobacco consumption"),
        ("Nombre de cigarettes par jour", "Number of cigarettes per day"),
        ("Âge au début du tabagisme", "Age at smoking initiation"),
        ("Arrêt du tabac", "Smoking cessation"))),
    ("ALC", "Alcool", "Alcohol", (
        ("Consommation d'alcool", "Alcohol consumption"),
        ("Nombre de verres par semaine", "Number of drinks per week"),
        ("Épisodes d'alcoolisation ponctuelle importante", "Binge drinking episodes"))),
    ("ALI", "Alimentation", "Diet", (
        ("Consommation de fruits et légumes", "Fruit and vegetable intake"),
        ("Fréquence de consommation de viande", "Meat consumption frequency"),
        ("Régime alimentaire particulier", "Special diet"))),
    ("ACT", "Activité physique", "Physical activity", (
        ("Activité physique de loisir", "Leisure-time physical activity"),
        ("Temps passé assis", "Sitting time"),
        ("Pratique d'un sport", "Sport practice"))),
    ("SOM", "Sommeil", "Sleep", (
        ("Durée du sommeil", "Sleep duration"),
        ("Troubles du sommeil", "Sleep disorders"),
        ("Heure du coucher", "Bedtime"))),
    ("ANT", "Anthropométrie", "Anthropometry", (
        ("Poids mesuré", "Measured weight"),
        ("Taille mesurée", "Measured height"),
        ("Tour de taille", "Waist circumference"),
        ("Indice de masse corporelle", "Body mass index"))),
    ("TEN", "Pression artérielle", "Blood pressure", (
        ("Tension artérielle systolique", "Systolic blood pressure"),
        ("Tension artérielle diastolique", "Diastolic blood pressure"),
        ("Traitement antihypertenseur", "Antihypertensive treatment"))),
    ("CAR", "Maladies cardiovasculaires", "Cardiovascular diseases", (
        ("Infarctus du myocarde", "Myocardial infarction"),
        ("Accident vasculaire cérébral", "Stroke"),
        ("Insuffisance cardiaque", "Heart failure"))),
    ("DIA", "Diabète", "Diabetes", (
        ("Glycémie à jeun", "Fasting blood glucose"),
        ("Diabète diagnostiqué", "Diagnosed diabetes"),
        ("Traitement par insuline", "Insulin treatment"))),
    ("DEP", "Santé mentale", "Mental health", (
        ("Symptômes dépressifs", "Depressive symptoms"),
        ("Score d'anxiété", "Anxiety score"),
        ("Idées suicidaires", "Suicidal thoughts"))),
    ("COG", "Cognition", "Cognition", (
        ("Test de mémoire verbale", "Verbal memory test"),
        ("Fluence verbale", "Verbal fluency"),
        ("Plainte cognitive", "Cognitive complaint"))),
    ("RES", "Santé respiratoire", "Respiratory health", (
        ("Asthme diagnostiqué", "Diagnosed asthma"),
        ("Volume expiratoire maximal", "Forced expiratory volume"),
        ("Toux chronique", "Chronic cough"))),
    ("TRA", "Travail", "Work", (
        ("Profession exercée", "Current occupation"),
        ("Horaires de travail atypiques", "Atypical working hours"),
        ("Exposition professionnelle aux solvants", "Occupational exposure to solvents"))),
    ("REV", "Revenus", "Income", (
        ("Revenu mensuel du foyer", "Monthly household income"),
        ("Difficultés financières", "Financial difficulties"))),
    ("EDU", "Éducation", "Education", (
        ("Niveau de diplôme", "Highest qualification"),
        ("Âge de fin d'études", "Age at end of education"))),
    ("LOG", "Logement", "Housing", (
        ("Type de logement", "Type of housing"),
        ("Nombre de pièces", "Number of rooms"),
        ("Humidité dans le logement", "Damp housing"))),
    ("FAM", "Famille", "Family", (
        ("Situation matrimoniale", "Marital status"),
        ("Nombre d'enfants", "Number of children"))),
    ("GRO", "Grossesse", "Pregnancy", (
        ("Âge gestationnel à la naissance", "Gestational age at birth"),
        ("Diabète gestationnel", "Gestational diabetes"),
        ("Prise de poids pendant la grossesse", "Weight gain during pregnancy"))),
    ("NAI", "Naissance", "Birth", (
        ("Poids de naissance", "Birth weight"),
        ("Mode d'accouchement", "Mode of delivery"),
        ("Score d'Apgar", "Apgar score"))),
    ("ALL", "Allaitement", "Breastfeeding", (
        ("Allaitement maternel", "Breastfeeding"),
        ("Durée de l'allaitement", "Breastfeeding duration"))),
    ("DEV", "Développement de l'enfant", "Child development", (
        ("Âge de la marche", "Age at walking"),
        ("Premiers mots", "First words"),
        ("Motricité fine", "Fine motor skills"))),
    ("ECR", "Écrans", "Screen time", (
        ("Temps passé devant les écrans", "Screen time"),
        ("Télévision dans la chambre", "Television in the bedroom"))),
    ("VAC", "Vaccination", "Vaccination", (
        ("Vaccination contre la grippe", "Influenza vaccination"),
        ("Statut vaccinal ROR", "MMR vaccination status"))),
    ("MED", "Médicaments", "Medication", (
        ("Prise d'antidépresseurs", "Antidepressant use"),
        ("Prise d'anxiolytiques", "Anxiolytic use"),
        ("Automédication", "Self-medication"))),
    ("HOS", "Hospitalisations", "Hospital stays", (
        ("Nombre de séjours hospitaliers", "Number of hospital stays"),
        ("Passage aux urgences", "Emergency department visit"))),
    ("SOI", "Recours aux soins", "Health care use", (
        ("Consultations de médecin généraliste", "General practitioner visits"),
        ("Consultations de spécialiste", "Specialist visits"),
        ("Renoncement aux soins", "Forgone care"))),
    ("ALD", "Affections de longue durée", "Long-term illnesses", (
        ("Affection de longue durée", "Long-term illness"),
        ("Date d'entrée en ALD", "Long-term illness start date"))),
    ("CAN", "Cancers", "Cancers", (
        ("Cancer du sein", "Breast cancer"),
        ("Cancer colorectal", "Colorectal cancer"),
        ("Dépistage du cancer", "Cancer screening"))),
    ("DOU", "Douleur", "Pain", (
        ("Douleurs lombaires", "Low back pain"),
        ("Migraines", "Migraine"))),
    ("AUD", "Audition et vision", "Hearing and vision", (
        ("Perte auditive", "Hearing loss"),
        ("Port de lunettes", "Wearing glasses"))),
    ("BUC", "Santé bucco-dentaire", "Oral health", (
        ("Nombre de dents manquantes", "Number of missing teeth"),
        ("Visite chez le dentiste", "Dental visit"))),
    ("ENV", "Environnement", "Environment", (
        ("Exposition au bruit", "Noise exposure"),
        ("Pollution de l'air extérieur", "Outdoor air pollution"),
        ("Exposition passive à la fumée", "Second-hand smoke exposure"))),
    ("SOC", "Liens sociaux", "Social ties", (
        ("Soutien social", "Social support"),
        ("Sentiment de solitude", "Loneliness"))),
    ("VIO", "Violences", "Violence", (
        ("Violences subies", "Experienced violence"),
        ("Harcèlement au travail", "Workplace harassment"))),
    ("SEX", "Santé sexuelle", "Sexual health", (
        ("Contraception utilisée", "Contraception used"),
        ("Âge aux premières règles", "Age at menarche"))),
    ("RET", "Retraite", "Retirement", (
        ("Âge de départ à la retraite", "Age at retirement"),
        ("Pension de retraite", "Retirement pension"))),
    ("BIO", "Biologie", "Biology", (
        ("Cholestérol total", "Total cholesterol"),
        ("Créatinine sérique", "Serum creatinine"),
        ("Hémoglobine glyquée", "Glycated haemoglobin"))),
    ("GEN", "Génétique", "Genetics", (
        ("Prélèvement d'ADN", "DNA sample"),
        ("Antécédents familiaux", "Family history"))),
    ("QDV", "Qualité de vie", "Quality of life", (
        ("Santé perçue", "Self-rated health"),
        ("Score de qualité de vie", "Quality of life score"))),
    ("MOR", "Mortalité", "Mortality", (
        ("Cause de décès", "Cause of death"),
        ("Date de décès", "Date of death"))),
)

TIME_FRAMES = (("", "", ""), ("au cours des 12 derniers mois", "in the past 12 months", "12M"),
               ("actuellement", "currently", "ACT"), ("au cours de la vie", "lifetime", "VIE"),
               ("à l'inclusion", "at inclusion", "INC"),
               ("depuis le dernier questionnaire", "since the last questionnaire", "DER"))
SUBJECTS = (("", "", ""), ("de la mère", "of the mother", "M"), ("du père", "of the father", "P"),
            ("de l'enfant", "of the child", "E"), ("du conjoint", "of the partner", "C"))
INSTRUMENTS = ("Questionnaire annuel", "Examen de santé", "Auto-questionnaire",
               "Entretien téléphonique", "Entretien en face à face", "Données SNDS",
               "Données CNAV", "Dossier médical")
RESPONSES = (("code", 60), ("numeric", 25), ("text", 7), ("datetime", 8))
CATEGORIES = ((("fr", "Jamais"), ("en", "Never"), ("fr", "Parfois"), ("en", "Sometimes"),
               ("fr", "Souvent"), ("en", "Often"), ("fr", "Tous les jours"),
               ("en", "Every day")),
              (("fr", "Oui"), ("en", "Yes"), ("fr", "Non"), ("en", "No"),
               ("fr", "Ne sait pas"), ("en", "Does not know")))


@dataclass(frozen=True, slots=True)
class Cohort:
    slug: str
    label: str
    agency: str
    waves: tuple[tuple[str, int], ...]


COHORTS = (
    Cohort("constances", "Constances", "fr.inserm.constances",
           tuple((f"Suivi {year}", year) for year in range(2012, 2022))),
    Cohort("gazel", "GAZEL", "fr.inserm.gazel",
           tuple((f"Questionnaire {year}", year) for year in range(1989, 2021, 4))),
    Cohort("elfe", "Elfe", "fr.ined.elfe",
           (("Maternité", 2011), ("Enquête 2 mois", 2011), ("Enquête 1 an", 2012),
            ("Enquête 2 ans", 2013), ("Enquête 3 ans et demi", 2014),
            ("Enquête 5 ans et demi", 2016), ("Enquête 8 ans", 2019))),
    Cohort("epipage2", "Epipage 2", "fr.inserm.epipage2",
           (("Naissance", 2011), ("Suivi 1 an", 2012), ("Suivi 2 ans", 2013),
            ("Suivi 5 ans", 2016), ("Suivi 8 ans", 2019))),
)


def variables(count: int, seed: int = 4) -> Iterator[SearchDocument]:
    """``count`` variable documents, always the same for the same seed."""
    rng = random.Random(seed)
    responses = [r for r, weight in RESPONSES for _ in range(weight)]
    for n in range(count):
        cohort = COHORTS[n % len(COHORTS)]
        code, topic_fr, topic_en, measures = TOPICS[rng.randrange(len(TOPICS))]
        measure = rng.randrange(len(measures))
        measure_fr, measure_en = measures[measure]
        frame_fr, frame_en, frame_code = TIME_FRAMES[rng.randrange(len(TIME_FRAMES))]
        subject_fr, subject_en, subject_code = SUBJECTS[rng.randrange(len(SUBJECTS))]
        wave = rng.randrange(len(cohort.waves))
        wave_label, year = cohort.waves[wave]
        label_fr = " ".join(p for p in (measure_fr, subject_fr, frame_fr) if p)
        label_en = " ".join(p for p in (measure_en, subject_en, frame_en) if p)
        question = f"{code}{measure}{frame_code}{subject_code}"
        instrument = INSTRUMENTS[rng.randrange(len(INSTRUMENTS))]
        response = responses[rng.randrange(len(responses))]
        casd = instrument == "Données SNDS" or rng.random() < 0.08
        yield SearchDocument(
            urn=f"urn:ddi:{cohort.agency}:v{n}:1",
            kind="variable",
            publication_id=1 + n % 40,
            name=f"{question}_V{wave + 1}_{n}",
            label=(("fr", label_fr), ("en", label_en)),
            question_text=(("fr", f"{label_fr} ?"), ("en", f"{label_en}?")),
            description=(("fr", f"{measure_fr} ({topic_fr.lower()}), recueilli par "
                                f"{instrument.lower()} lors de la vague {wave_label}."),),
            category_labels=CATEGORIES[n % 2] if response == "code" else (),
            concept_labels=(("fr", topic_fr), ("en", topic_en)),
            cohort=cohort.slug,
            cohort_label=cohort.label,
            wave=wave_label,
            wave_urn=f"urn:ddi:{cohort.agency}:wave-{wave + 1}:1",
            years=(year,),
            topics=(topic_en,),
            instruments=(instrument,),
            response_type=response,
            access="casd" if casd else "open",
            group_key=f"urn:ddi:{cohort.agency}:q-{question}:1",
        )


_WORDS = ("tabac", "smoking", "alcool", "alcohol", "sommeil", "sleep", "poids", "weight",
          "diabète", "diabetes", "grossesse", "pregnancy", "allaitement", "breastfeeding",
          "dépression", "depressive", "cancer", "asthme", "asthma", "revenus", "income",
          "retraite", "retirement", "vaccination", "douleur", "pain", "écrans", "screen",
          "logement", "housing", "solitude", "loneliness", "mémoire", "memory",
          "cholestérol", "cholesterol", "hospitaliers", "hospital", "urgences", "emergency",
          "travail", "work", "naissance", "birth", "enfant", "child", "mère", "mother")
_PAIRS = ("consommation alcool", "physical activity", "tension artérielle",
          "blood pressure", "activité physique", "santé mentale", "mental health",
          "poids naissance", "sleep duration", "temps écrans", "cancer sein",
          "hospital stays", "qualité vie", "quality life", "fruits légumes",
          "verres semaine", "cigarettes jour", "tobacco consumption")
_PREFIXES = ("tabag*", "cardio*", "alim*", "depress*", "vacc*", "hospit*", "grossess*",
             "allait*", "diab*", "cholest*", "retrai*", "smok*", "pollu*", "anxi*", "hab*")
_PHRASES = ('"tour de taille"', '"blood pressure"', '"12 derniers mois"',
            '"number of hospital stays"', '"activité physique de loisir"',
            '"de la mère"', '"birth weight"', '"sleep duration"', '"score d\'apgar"')
_MISSPELLED = ("tabagism", "smokng", "alcol", "diabete", "pregnancey", "slepp",
               "cholesterl", "vaccinaton", "breastfeding", "hopsital")


def queries(count: int, documents: list[SearchDocument],
            seed: int = 7) -> list[tuple[str, Filters]]:
    """``count`` queries with distinct texts (so that no cache answers for another query):
    words, pairs, prefixes, phrases, misspellings, browsing, and variable names for the
    rest; one in three carries facet filters."""
    rng = random.Random(seed)
    filters = (
        Filters(cohort=("constances",)), Filters(cohort=("elfe", "epipage2")),
        Filters(access=("casd",)), Filters(year=(2012, 2013)),
        Filters(topic=("Smoking", "Alcohol")), Filters(response_type=("numeric",)),
        Filters(cohort=("gazel",), access=("open",)), Filters(instrument=("Examen de santé",)),
    )
    texts = [*_WORDS, *_PAIRS, *_PREFIXES, *_PHRASES, *_MISSPELLED, ""]
    names = [d.name for d in rng.sample(documents, min(len(documents), count))]
    texts += names[:max(0, count - len(texts))]
    return [(text, filters[rng.randrange(len(filters))] if rng.random() < 1 / 3
             else Filters()) for text in texts[:count]]


# -- measuring ---------------------------------------------------------------------------

FACET_COLUMNS = ("kind", "cohort", "wave", "year", "topic", "instrument", "response_type",
                 "access")
INTERACTIVE_MS = 200.0


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    docs: int
    build_s: float
    size_mb: float
    cold_ms: float
    cold_rss_mb: float
    p50_ms: float
    p95_ms: float
    grouped_p95_ms: float | None = None


def measure_engine(name: str, documents: list[SearchDocument],
                   searches: list[tuple[str, Filters]], work: Path,
                   grouped_queries: int) -> Row:
    path = work / f"{name}-{len(documents)}"
    with open_engine(name, path) as engine:
        started = time.perf_counter()
        engine.rebuild(documents)
        build = time.perf_counter() - started
    cold = _cold_open(f"""
from search.engine import open_engine
from search.query import SearchQuery
started = time.perf_counter()
engine = open_engine({name!r}, {str(path)!r})
engine.search(SearchQuery("tabac"))
""")
    with open_engine(name, path) as engine:
        # Per-commit reader caches (whoosh's facet sets and browse order) are built by the
        # first queries after a commit; two queries outside the measured set build them.
        engine.search(SearchQuery("warm up"))
        engine.search(SearchQuery("", filters=Filters(kind=("study",))))
        times = [_timed(engine.search, SearchQuery(text, filters=f, page_size=20))
                 for text, f in searches]
        grouped = [_timed(engine.search, SearchQuery(text, filters=f, page_size=20, group=True))
                   for text, f in searches[:grouped_queries]]
    return Row(f"{name} (catalogue)", len(documents), build, _size_mb(path), *cold,
               *_percentiles(times), _percentiles(grouped)[1] if grouped else None)


def measure_tantivy_floor(documents: list[SearchDocument],
                          searches: list[tuple[str, Filters]], work: Path) -> Row:
    """The same queries straight on tantivy: its parser, its default tokenizer."""
    path = work / f"floor-{len(documents)}"
    path.mkdir(parents=True)
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True)
    builder.add_text_field("body", stored=False)
    builder.add_text_field("urn", stored=True, tokenizer_name="raw")
    for facet in FACET_COLUMNS:
        builder.add_text_field(facet, tokenizer_name="raw", fast=True)
    schema = builder.build()
    index = tantivy.Index(schema, str(path))
    started = time.perf_counter()
    writer = index.writer(heap_size=128_000_000)
    for d in documents:
        writer.add_document(tantivy.Document.from_dict({
            "title": [t for _, t in d.label] + [d.name],
            "body": [t for _, t in (*d.question_text, *d.description, *d.concept_labels,
                                    *d.category_labels)],
            "urn": d.urn, **_facet_values(d)}, schema))
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - started
    cold = _cold_open(f"""
import tantivy
started = time.perf_counter()
index = tantivy.Index.open({str(path)!r})
searcher = index.searcher()
searcher.search(index.parse_query("tabac", ["title", "body"]), 20)
""")
    index.reload()
    searcher = index.searcher()

    def run(text: str, filters: Filters) -> None:
        query = (index.parse_query_lenient(text, ["title", "body"])[0] if text
                 else tantivy.Query.all_query())
        clauses = [(tantivy.Occur.Must, query)] + [
            (tantivy.Occur.Must, tantivy.Query.term_set_query(schema, facet, list(values)))
            for facet, values in filters.active()]
        query = tantivy.Query.boolean_query(clauses)
        result = searcher.search(query, 20, count=True)
        searcher.aggregate(query, {f: {"terms": {"field": f, "size": 1000}}
                                   for f in FACET_COLUMNS})
        snippets = tantivy.SnippetGenerator.create(searcher, query, schema, "title")
        for _, address in result.hits:
            snippets.snippet_from_doc(searcher.doc(address)).to_html()

    times = [_timed(run, text, f) for text, f in searches]
    return Row("tantivy (raw floor)", len(documents), build, _size_mb(path), *cold,
               *_percentiles(times))


def measure_fts5(documents: list[SearchDocument], searches: list[tuple[str, Filters]],
                 work: Path) -> Row:
    """The same queries on SQLite FTS5 (unicode61, diacritics removed, no stemming)."""
    path = work / f"fts5-{len(documents)}.sqlite"
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    connection.executescript(f"""
        CREATE VIRTUAL TABLE fts USING fts5(title, body,
            tokenize = 'unicode61 remove_diacritics 2');
        CREATE TABLE meta(id INTEGER PRIMARY KEY, {", ".join(FACET_COLUMNS)});
    """)
    with connection:
        for number, d in enumerate(documents, 1):
            connection.execute("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", (
                number, " ".join([*(t for _, t in d.label), d.name]),
                " ".join(t for _, t in (*d.question_text, *d.description, *d.concept_labels,
                                        *d.category_labels))))
            values = _facet_values(d)
            # Multi-valued facets keep their first value: FTS5 has no multi-valued column.
            connection.execute(f"INSERT INTO meta VALUES (?, {', '.join('?' * 8)})",
                               (number, *(values[f][0] if values[f] else None
                                          for f in FACET_COLUMNS)))
    connection.close()
    build = time.perf_counter() - started
    cold = _cold_open(f"""
import sqlite3
started = time.perf_counter()
connection = sqlite3.connect({str(path)!r})
connection.execute("SELECT rowid FROM fts WHERE fts MATCH 'tabac' LIMIT 20").fetchall()
""")
    connection = sqlite3.connect(path)

    def run(text: str, filters: Filters) -> None:
        where, parameters = [], []
        for facet, values in filters.active():
            where.append(f"meta.{facet} IN ({', '.join('?' * len(values))})")
            parameters.extend(values)
        match = _fts5_query(text)
        connection.execute("DROP TABLE IF EXISTS temp.matched")
        if match:
            connection.execute("CREATE TEMP TABLE matched AS SELECT rowid AS id, "
                               "snippet(fts, 0, '<mark>', '</mark>', '…', 12) AS snippet, "
                               "bm25(fts, 3.0, 1.0) AS rank FROM fts WHERE fts MATCH ?",
                               (match,))
        else:
            connection.execute("CREATE TEMP TABLE matched AS SELECT id, '' AS snippet, "
                               "0 AS rank FROM meta")
        condition = " AND ".join(["1", *where])
        joined = f"FROM matched JOIN meta USING (id) WHERE {condition}"
        connection.execute(f"SELECT id, snippet {joined} ORDER BY rank LIMIT 20",
                           parameters).fetchall()
        connection.execute(f"SELECT count(*) {joined}", parameters).fetchone()
        for facet in FACET_COLUMNS:
            connection.execute(f"SELECT meta.{facet}, count(*) {joined} GROUP BY 1",
                               parameters).fetchall()

    times = [_timed(run, text, f) for text, f in searches]
    connection.close()
    return Row("SQLite FTS5", len(documents), build, path.stat().st_size / 1e6, *cold,
               *_percentiles(times))


def _fts5_query(text: str) -> str:
    """The same query in FTS5 syntax: every word or phrase quoted, prefixes starred."""
    tokens = []
    for i, chunk in enumerate(text.split('"')):
        if i % 2 and chunk.strip():
            tokens.append(f'"{chunk}"')
        elif not i % 2:
            tokens += [f'"{w.rstrip("*")}"' + ("*" if w.endswith("*") else "")
                       for w in chunk.split() if w.strip("*")]
    return " ".join(tokens)


def _facet_values(document: SearchDocument) -> dict[str, list[str]]:
    return {"kind": [document.kind], "cohort": [document.cohort],
            "wave": [document.wave_urn], "year": [str(y) for y in document.years],
            "topic": list(document.topics), "instrument": list(document.instruments),
            "response_type": [document.response_type], "access": [document.access]}


def _cold_open(body: str) -> tuple[float, float]:
    """(milliseconds to open and answer a first query, peak RSS in MB) in a new process."""
    # VmHWM rather than ru_maxrss, which Linux carries over from the forking parent.
    script = "import time\n" + body + """
elapsed = (time.perf_counter() - started) * 1000
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(f"{elapsed} {int(status) / 1024}")
"""
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed, rss = output.stdout.split()
    return float(elapsed), float(rss)


def _timed(call: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def _percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), cuts[94]


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _print_table(rows: list[Row], query_count: int, load_before: float) -> None:
    print(f"\n{query_count} queries, page size 20, all facet counts, highlighted snippets "
          f"(catalogue, floor); FTS5: snippets and facet GROUP BYs")
    # Other work on the machine inflates every figure: say how busy it was.
    print(f"{os.cpu_count()} cores; load average {load_before:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end")
    header = ("engine", "docs", "build s", "index MB", "cold open+1st ms", "cold RSS MB",
              "p50 ms", "p95 ms", "grouped p95 ms")
    lines = [header] + [(r.name, f"{r.docs:,}", f"{r.build_s:.1f}", f"{r.size_mb:.0f}",
                         f"{r.cold_ms:.0f}", f"{r.cold_rss_mb:.0f}", f"{r.p50_ms:.2f}",
                         f"{r.p95_ms:.2f}",
                         "" if r.grouped_p95_ms is None else f"{r.grouped_p95_ms:.2f}")
                        for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True))))
        if number == 0:
            print("  ".join("-" * w for w in widths))
    whoosh = sorted((r for r in rows if r.name.startswith("whoosh")), key=lambda r: r.docs)
    if whoosh:
        print(f"\nwhoosh p95 by catalogue size (interactive means p95 under "
              f"{INTERACTIVE_MS:.0f} ms):")
        for row in whoosh:
            verdict = "interactive" if row.p95_ms <= INTERACTIVE_MS else "not interactive"
            print(f"  {row.docs:>9,} documents: p95 {row.p95_ms:7.1f} ms  {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200_000, help="documents per index")
    parser.add_argument("--engines", default="tantivy,whoosh",
                        help="catalogue engines to measure at --docs (comma-separated)")
    parser.add_argument("--whoosh-sizes", default="",
                        help="also measure whoosh at these sizes, e.g. 10000,50000")
    parser.add_argument("--queries", type=int, default=200, help="queries to time")
    parser.add_argument("--grouped", type=int, default=50,
                        help="how many of the queries also run grouped")
    parser.add_argument("--no-floor", action="store_true", help="skip raw tantivy and FTS5")
    parser.add_argument("--work-dir", type=Path, help="where to build (default: a temp dir)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="search-bench-", dir=args.work_dir))
    try:
        generated = time.perf_counter()
        documents = list(variables(max([args.docs, *_sizes(args.whoosh_sizes)])))
        print(f"generated {len(documents):,} documents in "
              f"{time.perf_counter() - generated:.1f} s", flush=True)
        rows: list[Row] = []
        corpus = documents[:args.docs]
        searches = queries(args.queries, corpus)
        for name in [e for e in args.engines.split(",") if e]:
            rows.append(measure_engine(name, corpus, searches, work, args.grouped))
            print(rows[-1], flush=True)
        for size in _sizes(args.whoosh_sizes):
            if size == args.docs and "whoosh" in args.engines.split(","):
                continue
            subset = documents[:size]
            rows.append(measure_engine("whoosh", subset, queries(args.queries, subset), work,
                                       args.grouped))
            print(rows[-1], flush=True)
        if not args.no_floor:
            rows.append(measure_tantivy_floor(corpus, searches, work))
            print(rows[-1], flush=True)
            rows.append(measure_fts5(corpus, searches, work))
            print(rows[-1], flush=True)
        _print_table(rows, len(searches), load_before)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    main()
