"""The help shipped with Forprev (`flask seed reference` loads it): the FAQ, drawn from the
questions users asked (webinar « En route vers Forprev 2 », the support's most frequent
problems), and one manual per role describing the screens of this application.

Loaded once: the FAQ when it is empty, a role's manual when it has none. Afterwards the
administrators own them ("Gérer la FAQ et les manuels"); running the seed again neither
overwrites their changes nor brings back what they deleted.
"""

from sqlmodel import Session, select

from app.domain.help_content import search_text_of
from app.models import FaqEntry, Manual

# (module, question, answer in Markdown), in the order shown within each module
FAQ = [
    (
        "compte",
        "Comment me connecter pour la première fois ?",
        "Votre compte est créé par le gestionnaire de votre entité, par la caisse ou à "
        "l'issue de votre formation de formateur. Vous recevez alors un e-mail "
        "« Définir votre mot de passe » : son lien est valable **72 heures** et ne sert "
        "qu'une fois.\n\n"
        "Connectez-vous ensuite avec votre **adresse e-mail** ou votre **numéro Forprev** "
        "(3 lettres majuscules et 5 chiffres, par exemple JKA37899). À la première "
        "connexion, la page « Première connexion » vous demande de choisir vos "
        "notifications (alertes, notifications de tâches, messages ciblés) ; si vous êtes "
        "formateur, choisissez aussi votre caisse de rattachement.\n\n"
        "Le lien a expiré ? Utilisez « Mot de passe oublié ? » sur la page de connexion : "
        "le même e-mail vous est renvoyé.",
    ),
    (
        "compte",
        "J'ai oublié mon mot de passe : que faire ?",
        "Sur la page **Connexion**, choisissez « Mot de passe oublié ? », saisissez votre "
        "adresse e-mail ou votre numéro Forprev puis « Recevoir le lien ». Le lien reçu "
        "est valable 72 heures et ne sert qu'une fois.\n\n"
        "Le nouveau mot de passe contient au moins **8 caractères**, dont une minuscule, "
        "une majuscule, un chiffre et un caractère spécial (par exemple `Mémoires=0`).\n\n"
        "Par sécurité, la page ne dit pas si l'adresse est connue. Rien reçu après "
        "quelques minutes ? Regardez dans vos courriers indésirables, puis écrivez à "
        "l'assistance depuis « Aide et assistance ».",
    ),
    (
        "compte",
        "Je suis gestionnaire et formatrice : me faut-il deux adresses e-mail ?",
        "Non. Une personne a **une seule adresse e-mail et un seul numéro Forprev**, "
        "quel que soit le nombre de ses rôles.\n\n"
        "Tous vos rôles apparaissent dans la liste « Rôle », en haut à droite à côté de "
        "« Déconnexion » (par exemple « Gestionnaire — MAROSE FORMATION » et "
        "« Formateur »). Choisissez-en un puis « Changer » : le menu, le tableau de bord "
        "et les données affichées suivent le rôle choisi, sans vous déconnecter.\n\n"
        "Vous pouvez donc déclarer une session comme gestionnaire puis la valider comme "
        "formatrice, chaque étape restant tracée à votre nom.",
    ),
    (
        "compte",
        "Je gère plusieurs entités : puis-je garder la même adresse e-mail ?",
        "Oui. Chaque entité dont vous êtes gestionnaire apparaît comme un rôle distinct "
        "dans la liste « Rôle » en haut à droite : « Gestionnaire — NOM DE L'ENTITÉ ». "
        "Passez de l'une à l'autre avec « Changer » ; les sessions, habilitations et "
        "utilisateurs affichés sont toujours ceux de l'entité choisie.",
    ),
    (
        "compte",
        "Comment corriger mon nom, mon prénom ou ma date de naissance ?",
        "Ces données figurent sur les certificats : elles ne se modifient pas dans "
        "« Mon compte ». Écrivez à l'assistance depuis « Aide et assistance » (sujet "
        "« Mon compte »), en indiquant la correction à faire. Vous recevez un accusé de "
        "réception avec un numéro de demande, puis la réponse par e-mail.",
    ),
    (
        "compte",
        "Comment changer mon adresse e-mail ?",
        "Dans **Mon compte**, rubrique « Changer d'adresse e-mail », saisissez la nouvelle "
        "adresse puis « Envoyer le lien de confirmation ». Le changement s'applique quand "
        "vous ouvrez le lien reçu à la nouvelle adresse.\n\n"
        "L'adresse est personnelle et unique : préférez une adresse professionnelle dont "
        "vous êtes le seul destinataire, car elle reçoit vos liens de mot de passe et vos "
        "certificats.",
    ),
    (
        "compte",
        "Mon numéro Forprev peut-il changer ?",
        "Non. Le numéro Forprev vous est attribué une fois pour toutes ; il reste le même "
        "quels que soient vos rôles, vos entités ou votre adresse e-mail. Il permet à une "
        "entité de vous retrouver comme formateur ou comme stagiaire de niveau 2.",
    ),
    (
        "entite",
        "Comment faire enregistrer mon entité ?",
        "1. Créez un compte depuis « Création d'un compte demandeur » sur la page de "
        "connexion et ouvrez le lien reçu par e-mail.\n"
        "2. Dans **Mes demandes en cours**, choisissez « + Demande de nouvelle entité ».\n"
        "3. Étape 1 : type d'entité, raison sociale, régime, SIRET, numéro de déclaration "
        "d'activité pour un organisme de formation, attestation URSSAF en PDF de moins de "
        "6 mois, adresse.\n"
        "4. Étape 2 : le signataire de la lettre d'engagement (nom, prénom, fonction), puis "
        "envoyez la demande.\n\n"
        "Vous pouvez « Enregistrer » à tout moment et reprendre plus tard. La demande part "
        "à la caisse instructrice de votre département (d'après le code postal). Si elle "
        "vous la renvoie avec un commentaire, corrigez et renvoyez-la. Une fois le dossier "
        "administratif validé, vous devenez le premier gestionnaire de l'entité.",
    ),
    (
        "entite",
        "Comment apparaître sur la liste publique des organismes habilités ?",
        "Pour les organismes de formation : dans **Mon entité**, rubrique « Diffusion sur "
        "la liste inrs.fr », choisissez « Modifier la diffusion » et renseignez au moins "
        "une adresse e-mail, un numéro de téléphone ou un site web. Le changement "
        "s'applique aussitôt et peut être modifié autant que nécessaire.\n\n"
        "La page publique « Organismes habilités » montre alors vos coordonnées choisies, "
        "vos dispositifs et niveaux habilités et leur date de fin, tant qu'une habilitation "
        "est valide et non suspendue.",
    ),
    (
        "entite",
        "Je m'absente : comment confier la gestion de l'entité à un collègue ?",
        "Dans **Utilisateurs**, ajoutez votre collègue (nom, prénom, date de naissance, "
        "e-mail) :\n\n"
        "- comme **gestionnaire** : il a accès à tout ce qui concerne l'entité. Deux ou "
        "trois gestionnaires par entité, c'est l'usage ;\n"
        "- comme **délégataire** : il ne crée et ne clôture que les sessions des "
        "habilitations que vous lui confiez, et ne voit que les sessions qu'il a "
        "déclarées.\n\n"
        "Si la personne a déjà un compte, elle est retrouvée, pas créée une seconde fois.",
    ),
    (
        "entite",
        "Comment modifier la raison sociale, le SIRET ou l'adresse de l'entité ?",
        "Dans **Mon entité**, choisissez « Modifier les données administratives ». Les "
        "changements de type, raison sociale, régime, SIRET, attestation URSSAF ou adresse "
        "sont vérifiés par la caisse instructrice avant de s'appliquer : tant qu'elle n'a "
        "pas décidé, l'entité garde ses données en vigueur et la modification est affichée "
        "« en attente de validation ».\n\n"
        "Le signataire de la lettre d'engagement et la diffusion sur la liste publique "
        "changent aussitôt.",
    ),
    (
        "habilitation",
        "Quand et comment renouveler notre habilitation ?",
        "Le renouvellement peut être demandé **jusqu'à un an avant** la fin de validité de "
        "l'habilitation. Les gestionnaires reçoivent une alerte 12 mois puis 6 mois avant "
        "l'échéance.\n\n"
        "Avant la demande, vérifiez les données administratives de l'entité et joignez une "
        "attestation URSSAF (ou tout document justifiant que l'entité est à jour de ses "
        "déclarations) de moins de 6 mois, ainsi que les pièces du cahier des charges du "
        "dispositif (le déroulé pédagogique pour tous les dispositifs sauf SST niveau 1).\n\n"
        "Attention : une demande de renouvellement en cours **ne prolonge pas** "
        "l'habilitation. Après sa date de fin, aucune nouvelle session ne peut être "
        "déclarée sur ce dispositif.",
    ),
    (
        "habilitation",
        "Nos formateurs sont-ils rattachés à notre entité ?",
        "Non. Un formateur n'appartient à aucune entité : lors de la saisie d'une session, "
        "le gestionnaire ou le délégataire choisit le formateur de son choix, par son "
        "numéro Forprev ou par son nom, son prénom et sa date de naissance, puis « Lancer "
        "la vérification ».\n\n"
        "Forprev vérifie qu'il a le rôle de formateur et qu'il détient, à la date de fin de "
        "la session, un certificat valide du niveau requis pour ce dispositif.",
    ),
    (
        "habilitation",
        "Mon certificat de formateur a expiré : puis-je encore animer des sessions ?",
        "Non. Sans certificat de formateur valide, vous n'avez plus le rôle de formateur et "
        "aucune entité ne peut vous choisir pour une session. Votre compte et votre numéro "
        "Forprev sont conservés : suivez un stage de maintien et actualisation des "
        "compétences (MAC) ; dès que votre nouveau certificat est généré, le rôle revient.",
    ),
    (
        "certification",
        "Quand puis-je déclarer une session de certification ?",
        "Une session se déclare **de 3 mois avant à 1 mois après sa date de fin**. Il n'y "
        "a plus de délai de 15 jours avant le début de la session.\n\n"
        "L'habilitation doit être valide à la date de fin de la session : une session "
        "terminée pendant la validité reste déclarable dans le mois qui suit, même si "
        "l'habilitation a pris fin entre-temps.",
    ),
    (
        "certification",
        "Qui clôture la session : le formateur ou le gestionnaire ?",
        "Les deux interviennent, chacun à son tour :\n\n"
        "1. Le gestionnaire ou le délégataire saisit la session et « Envoyer au "
        "formateur ».\n"
        "2. Le formateur coche pour chaque stagiaire **Réussite** ou **Échec** puis "
        "« Envoyer les résultats des stagiaires » — ou fait un « Retour commenté » si "
        "quelque chose est à corriger.\n"
        "3. Le gestionnaire ou le délégataire vérifie et choisit « Générer les "
        "certificats », à partir de la date de fin de la session : c'est ce qui la "
        "clôture.\n\n"
        "Il n'y a pas de délai pour clôturer, mais les certificats n'existent qu'une fois "
        "la session clôturée.",
    ),
    (
        "certification",
        "Le formateur peut-il saisir une validation partielle des compétences ?",
        "Non : pour chaque stagiaire, seulement « Réussite » ou « Échec ». Un stagiaire en "
        "échec ne reçoit pas de certificat.",
    ),
    (
        "certification",
        "Je suis formateur : comment choisir ma caisse de rattachement ?",
        "Elle est demandée à la première connexion et se change ensuite dans **Mon "
        "compte**, rubrique « Mes notifications et ma caisse de rattachement ». C'est par "
        "elle que vous recevez les messages ciblés de votre région ; elle ne limite pas "
        "les entités avec lesquelles vous travaillez.",
    ),
    (
        "certification",
        "Une session est en erreur après la clôture : qui peut la corriger ?",
        "Une session clôturée ne se modifie plus dans Forprev. Écrivez à l'assistance "
        "depuis « Aide et assistance » en donnant le numéro de la session et la correction "
        "(date, lieu, formateur). Avant la clôture, le gestionnaire corrige lui-même avec "
        "« Modifier la saisie de la session » : la session repart au formateur.",
    ),
    (
        "certificats",
        "Combien de temps les certificats restent-ils téléchargeables ?",
        "Dès que la session est clôturée, l'onglet **Téléchargements** de la session "
        "propose « Télécharger les certificats » (un fichier ZIP) et « Un seul PDF pour "
        "l'impression ».\n\n"
        "Ils restent disponibles **15 jours calendaires** : ensuite, la session et les "
        "données des stagiaires sont supprimées de Forprev, sans historique. Enregistrez "
        "les certificats dans vos archives, puis cochez « J'ai téléchargé les "
        "certificats » : la tâche disparaît de votre tableau de bord. Aucun duplicata "
        "n'est délivré pour le niveau 1.",
    ),
    (
        "certificats",
        "Où trouver mes certificats de formateur ?",
        "Avec le rôle Formateur, le menu **Mes certificats** liste vos certificats en cours "
        "de validité : modèle, dispositif et niveau, date de délivrance, date de fin de "
        "validité, et le PDF à télécharger. Une alerte vous prévient avant la fin de "
        "validité si vous l'avez choisie dans « Mon compte ».",
    ),
    (
        "certificats",
        "Comment vérifier qu'un certificat est authentique ?",
        "Chaque certificat porte un code QR. En le scannant, on ouvre la page publique "
        "« Vérification d'un certificat » de Forprev, qui indique s'il est valide et "
        "jusqu'à quelle date — sans compte et sans autre donnée personnelle que celles "
        "imprimées sur le certificat.",
    ),
]

MANUALS = {
    "demandeur": (
        "Manuel du demandeur",
        """Vous demandez l'enregistrement d'une entité (organisme de formation, entreprise,
collectivité…) afin qu'elle puisse ensuite demander des habilitations.

## Créer votre compte

Sur la page **Connexion**, choisissez « Création d'un compte demandeur ». Saisissez votre
nom, votre prénom, votre date de naissance et votre adresse e-mail, acceptez les
conditions d'utilisation des données et répondez à la question anti-robot. Ouvrez ensuite
le lien reçu par e-mail pour définir votre mot de passe.

## Mes demandes en cours

Ce menu liste vos demandes avec leur numéro et leur état :

- **Brouillon** : enregistrée, pas encore envoyée ;
- **Partie administrative en cours de validation** : la caisse instruit la demande ;
- **Renvoyée au demandeur** : la caisse vous demande une correction ; son commentaire est affiché ;
- **Dossier administratif validé** : l'entité existe, vous en êtes le gestionnaire.

## Demande de nouvelle entité

Choisissez « + Demande de nouvelle entité ». La demande se remplit en deux étapes, avec
« Suivant → » et « ← Précédent » ; « Enregistrer » garde votre saisie pour plus tard et
« Abandonner la demande » la supprime.

### Étape 1 — l'entité

- type d'entité, raison sociale, régime ;
- SIRET (14 chiffres, contrôlé à la saisie) ;
- numéro de déclaration d'activité pour un organisme de formation ;
- attestation URSSAF en PDF, de moins de 6 mois ;
- adresse, code postal et ville.

Un champ mal rempli est signalé à côté du champ, sans effacer le reste. Si la page vous
demande de choisir à nouveau l'attestation, c'est que le navigateur ne garde pas un
fichier après une erreur.

### Étape 2 — le signataire

Nom, prénom et fonction de la personne qui signe la lettre d'engagement. Envoyez ensuite
la demande : elle part à la **caisse instructrice** de votre département, déterminée par
le code postal.

## Après l'envoi

Si la caisse renvoie la demande, corrigez ce qu'indique son commentaire et renvoyez-la.
Une fois le dossier validé, le rôle **Gestionnaire** de l'entité apparaît dans la liste
« Rôle » en haut à droite : choisissez-le puis « Changer », sans vous déconnecter.
""",
    ),
    "gestionnaire": (
        "Manuel du gestionnaire",
        """Le gestionnaire a accès à tout ce qui concerne son entité : ses données, ses
habilitations, toutes ses sessions de certification et ses utilisateurs. Si vous gérez
plusieurs entités, chacune est un rôle distinct dans la liste « Rôle » en haut à droite.

## Tableau de bord

Il regroupe vos **alertes** (fin de validité d'une habilitation 12 et 6 mois avant),
vos **notifications** (une session renvoyée par le formateur, des certificats prêts…) et
les **messages ciblés** du réseau prévention. Le nombre de tâches « à traiter » s'affiche
à côté de « Tableau de bord » dans le menu.

## Mon entité

- **Données administratives** : « Modifier les données administratives » envoie les
  changements à la caisse instructrice, qui les valide avant qu'ils s'appliquent.
- **Signataire de la lettre d'engagement** : se modifie aussitôt.
- **Diffusion sur la liste inrs.fr** (organismes de formation) : e-mail, téléphone ou
  site web à publier sur la liste publique des organismes habilités.

## Habilitations

La liste des habilitations de l'entité : numéro, dispositif, niveau, début, fin de
validité et état. Une habilitation expirée ou suspendue ne permet plus de déclarer de
session dont la date de fin tombe hors de sa validité.

## Sessions de certification

### Déclarer une session

« + Nouvelle session » ouvre trois onglets :

- **Session** : dispositif et niveau (ceux de vos habilitations valides à la date de
  fin), certificat à éditer, lieu, code postal et ville, stage initial ou MAC, date de
  fin de session ;
- **Formateur** : son numéro Forprev, ou nom, prénom et date de naissance, puis
  « Lancer la vérification » — Forprev dit s'il a un certificat valide pour ce niveau ;
- **Stagiaires** : « Ajouter un stagiaire », ou « Ajouter la liste » en collant un
  tableau. Au niveau 2 et plus, le numéro Forprev et « Pré-remplir » retrouvent une
  personne déjà connue.

Chaque champ est vérifié pendant la saisie. Une session se déclare de 3 mois avant à
1 mois après sa date de fin. « Envoyer au formateur » la transmet pour validation.

### Suivre et clôturer

La liste montre l'état de chaque session : En cours de saisie, En cours de validation
Formateur, En cours de validation Entité (avec le commentaire du formateur en cas de
retour), Clôturée. Quand le formateur a envoyé les résultats :

- « Modifier la saisie de la session » si quelque chose est à corriger (la session
  repart ensuite au formateur) ;
- « Générer les certificats », à partir de la date de fin : la session est clôturée.

Une session non clôturée peut être supprimée avec « Supprimer la session ».

### Télécharger les certificats

L'onglet **Téléchargements** propose le ZIP des certificats et un seul PDF pour
l'impression, pendant 15 jours ; la session et les données des stagiaires sont ensuite
supprimées. Cochez « J'ai téléchargé les certificats » une fois archivés. Le même onglet
propose le fichier CSV des stagiaires certifiés à importer dans le Passeport de
prévention.

## Utilisateurs

Ajoutez un **gestionnaire** (tous les droits sur l'entité) ou un **délégataire** (les
sessions des habilitations que vous lui confiez seulement). Vous pouvez modifier le rôle
ou les habilitations confiées, ou retirer le rôle.

## Statistiques

« Statistiques » présente les stagiaires certifiés et en échec de l'entité par année,
dispositif et niveau, avec leurs tableaux à télécharger en CSV.
""",
    ),
    "delegataire": (
        "Manuel du délégataire",
        """Le délégataire déclare et clôture les sessions de certification des habilitations
que le gestionnaire de l'entité lui a confiées. Il ne voit que les sessions qu'il a
lui-même déclarées.

## Tableau de bord

Il montre vos notifications : une session que le formateur vous a renvoyée avec un
commentaire, des certificats prêts à télécharger. Si vous êtes aussi gestionnaire ou
formateur, passez d'un rôle à l'autre avec la liste « Rôle » en haut à droite.

## Habilitations

Le menu **Habilitations** liste celles qui vous sont déléguées, avec leur fin de
validité. Pour en obtenir une autre, demandez-la au gestionnaire de l'entité
(« Utilisateurs »).

## Déclarer une session

Dans **Sessions de certification**, « + Nouvelle session » ouvre les onglets :

- **Session** : seuls les dispositifs et niveaux qui vous sont délégués, valides à la date
  de fin, sont proposés ; puis le certificat à éditer, le lieu, stage initial ou MAC et la
  date de fin ;
- **Formateur** : numéro Forprev, ou nom, prénom et date de naissance, puis « Lancer la
  vérification » ;
- **Stagiaires** : un par un avec « Ajouter un stagiaire », ou plusieurs avec « Ajouter la
  liste ».

La session se déclare de 3 mois avant à 1 mois après sa date de fin. « Envoyer au
formateur » la transmet pour validation.

## Après le formateur

Quand la session revient « En cours de validation Entité » :

- si le formateur a fait un retour commenté, lisez son commentaire, corrigez avec
  « Modifier la saisie de la session » ;
- sinon, vérifiez les résultats et, à partir de la date de fin, « Générer les
  certificats ».

## Certificats

L'onglet **Téléchargements** de la session clôturée propose les certificats pendant
15 jours. Archivez-les, puis cochez « J'ai téléchargé les certificats ».
""",
    ),
    "formateur": (
        "Manuel du formateur",
        """Vous avez le rôle de formateur tant que vous détenez un certificat de formateur
(niveau 2 ou plus) en cours de validité. Vous validez les résultats des sessions que
vous animez, pour toutes les entités qui vous choisissent.

## Première connexion

Choisissez vos notifications et votre **caisse de rattachement** (obligatoire) : c'est par
elle que vous recevez les messages ciblés de votre région. Vous pouvez changer ces choix
dans **Mon compte**.

## Mes sessions de certification à traiter

Le tableau de bord et le menu **Sessions de certification** montrent les sessions qu'une
entité vous a envoyées. Ouvrez une session : ses informations et la liste des stagiaires
s'affichent.

### Envoyer les résultats

Pour chaque stagiaire, cochez **Réussite** ou **Échec** (pas de validation partielle),
puis « Envoyer les résultats des stagiaires ». La session repart à l'entité, qui génère les
certificats.

### Retour commenté

Si la session comporte une erreur (date, stagiaire, lieu…), choisissez « Retour
commenté » et expliquez ce qui doit être corrigé : le commentaire est obligatoire. La
session repart à l'entité, qui vous la renverra après correction.

## Mes certificats

Le menu **Mes certificats** liste vos certificats de formateur valides, avec leur
dispositif, niveau, date de délivrance et date de fin de validité, et leur PDF. Pensez
au stage de maintien et actualisation des compétences (MAC) avant la fin de validité : une
alerte vous prévient si vous l'avez choisie.

## Plusieurs rôles

Si vous êtes aussi gestionnaire d'une entité, passez d'un rôle à l'autre avec la liste
« Rôle » en haut à droite, sans vous déconnecter. Une seule adresse e-mail suffit.
""",
    ),
    "instructeur": (
        "Manuel de l'instructeur",
        """L'instructeur agit pour une caisse régionale (Carsat, Cramif, CGSS) : il valide les
dossiers administratifs des entités de sa région et les modifications de leurs données,
et écrit aux personnes de sa région.

## Tableau de bord

Il indique le nombre de demandes à instruire de votre caisse et vos notifications.

## Demandes à instruire

La liste montre les demandes de nouvelle entité et les modifications de données
administratives adressées à votre caisse (déterminée par le code postal de l'entité), les
plus anciennes d'abord.

### Une demande de nouvelle entité

Ouvrez-la pour lire les données saisies et l'attestation URSSAF (PDF). Puis :

- **valider** : l'entité est créée et le demandeur en devient le gestionnaire ;
- **renvoyer** au demandeur avec un commentaire expliquant ce qu'il doit corriger.

### Une modification de données

Les changements de raison sociale, SIRET, régime, adresse ou attestation sont présentés
à côté des données en vigueur. Acceptez-les pour qu'ils s'appliquent, ou refusez-les avec
un commentaire : l'entité garde alors ses données.

## Messages ciblés

« + Nouveau message » écrit aux gestionnaires, délégataires, formateurs ou instructeurs de
votre région, choisis par rôle, dispositif et niveau. Le nombre de destinataires
s'affiche avant l'envoi ; le message apparaît sur leur tableau de bord pendant la période
choisie et part par e-mail à ceux qui l'ont demandé.

## Statistiques

« Statistiques » présente les stagiaires certifiés de votre région par année,
département, dispositif et niveau, à partir de compteurs anonymes.
""",
    ),
    "administrateur": (
        "Manuel de l'administrateur",
        """L'administrateur (INRS, CNH) a une vue nationale : catalogue des dispositifs,
demandes de toutes les caisses, messages ciblés, statistiques, assistance et contenu de
l'aide.

## Catalogue des dispositifs

La liste des dispositifs (SST, Prap, CATEC…), de leurs niveaux, du nombre de stagiaires
par session et des certificats à éditer avec leur durée de validité.

## Demandes à instruire

Vous voyez les demandes et modifications de toutes les caisses, pour les suivre ; la
décision appartient à la caisse instructrice de l'entité.

## Messages ciblés

Comme l'instructeur, mais pour toute la France ou une région choisie : destinataires par
rôle, dispositif, niveau et caisse, nombre de personnes atteintes affiché avant l'envoi.

## Demandes d'assistance

Les administrateurs forment le support. La liste « Demandes d'assistance » montre les
demandes envoyées depuis « Nous écrire », avec leur référence et leur état (ouverte,
répondue, fermée). Ouvrez une demande pour y répondre : la réponse part par e-mail à la
personne et s'affiche sur son tableau de bord si elle a un compte. Fermez la demande une
fois traitée. Les demandes sont supprimées un an après leur envoi.

## Aide et assistance : FAQ et manuels

« Gérer la FAQ et les manuels », sur la page Aide et assistance :

- **FAQ** : « + Nouvelle question », « Modifier », « Monter » / « Descendre » pour l'ordre
  dans le module, « Supprimer… » avec confirmation ;
- **Manuels** : un par rôle ; les titres `##` et `###` forment le sommaire.

Le texte s'écrit en Markdown : `## Titre`, `**gras**`, listes avec `-`, liens
`[texte](https://…)` ou `[texte](mailto:…)`. Le HTML n'est pas interprété et seuls les
liens http, https et mailto sont actifs. Chaque modification est enregistrée dans le
journal d'audit.

## Statistiques

« Statistiques » présente les chiffres nationaux : stagiaires certifiés et en échec par
année, région, département, dispositif et niveau, stage initial ou MAC, sessions par mois.
Les filtres s'appliquent à l'adresse de la page, qui peut être mise en favori ; chaque
tableau se télécharge en CSV.
""",
    ),
}


def load_help_content(db: Session) -> dict:
    """The FAQ if it is empty, and each role's manual it lacks; returns what was added."""
    added_faq = 0
    if db.exec(select(FaqEntry.id).limit(1)).first() is None:
        positions: dict[str, int] = {}
        for module, question, answer in FAQ:
            positions[module] = positions.get(module, 0) + 1
            db.add(
                FaqEntry(
                    module=module,
                    question=question,
                    answer=answer,
                    position=positions[module],
                    search_text=search_text_of(question, answer),
                )
            )
            added_faq += 1
    have = set(db.exec(select(Manual.role)).all())
    added_manuals = 0
    for role, (title, body) in MANUALS.items():
        if role not in have:
            db.add(Manual(role=role, title=title, body=body.strip()))
            added_manuals += 1
    db.flush()
    return {"questions": added_faq, "manuels": added_manuals}
